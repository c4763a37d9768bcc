#!/usr/bin/env bash
# LDAP read benchmark: DirectoryReader vs `ldapsearch -E pr=500/noprompt`, same server, same run.
#
#   Benchmarks/LDAPRead/run.sh [SIZE...]     SIZE: 10k (default: 10k 100k) or small
#
# For each size: starts a private slapd (scripts/testenv/slapd.sh, generated organisation loaded
# offline), builds the benchmark in release mode, runs it (1 warm-up + 5 measured rounds, each
# round runs ldapsearch for people and groups, then the reader), stops slapd by PID.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(10k 100k)
RUNS="${RUNS:-5}"

swift build -c release --package-path "$HERE" 2>&1 | grep -v "unhandled; explicitly declare" | tail -3
BIN="$HERE/.build/release/LDAPReadBenchmark"

DIR=""
cleanup() { if [ -n "$DIR" ]; then "$REPO/scripts/testenv/slapd.sh" stop "$DIR" >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
for size in "${SIZES[@]}"; do
    DIR="$(mktemp -d /tmp/accesssync-ldap-bench-XXXXXX)"
    "$REPO/scripts/testenv/slapd.sh" start "$DIR" --org "$size" >/dev/null
    (
        # shellcheck disable=SC1091
        . "$DIR/env.sh"
        for schema in "rfc2307bis ou=groups" "rfc2307 ou=posix"; do
            set -- $schema
            "$BIN" --label "$size $1 ($2)" --runs "$RUNS" --schema "$1" --groups-base "$2"
        done
    )
    "$REPO/scripts/testenv/slapd.sh" stop "$DIR" >/dev/null
    DIR=""
done
