#!/usr/bin/env bash
# Starts every test server into ${ACCESSSYNC_TESTENV:-$REPO/.testenv} and writes
# $ACCESSSYNC_TESTENV/env.sh, which exports everything the tests need:
#
#   scripts/testenv/up.sh [--with-samba] [--org small|10k|100k|FILE] [--bulk N] [--no-smoke]
#   . "${ACCESSSYNC_TESTENV:-.testenv}/env.sh"
#   scripts/testenv/down.sh
#
# Servers (each a script of its own in this folder, usable alone with another DIR):
#   slapd/       OpenLDAP with the generated org (default small, plus --bulk 1200 people under
#                ou=bulk for paging and size-limit tests) — slapd.sh
#   postgres/    PostgreSQL 15 — postgres.sh
#   jupyterhub/  JupyterHub 6 (manage_groups off) — jupyterhub.sh
#   samba/       Samba AD DC, only with --with-samba (ports 389/636 are fixed) — samba.sh
# They start in parallel. On any failure everything started is stopped and up.sh exits 1.
# Afterwards a smoke check (smoke.sh) proves each server answers as the tests expect.
set -euo pipefail
TESTENV_NAME=up
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WITH_SAMBA=0; ORG=small; BULK=1200; SMOKE=1
while [ $# -gt 0 ]; do
    case "$1" in
        --with-samba) WITH_SAMBA=1; shift ;;
        --org) ORG="$2"; shift 2 ;;
        --bulk) BULK="$2"; shift 2 ;;
        --no-smoke) SMOKE=0; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done

ROOT="$(abspath "$TESTENV_ROOT")"
export ACCESSSYNC_TESTENV="$ROOT"
claim_env_dir "$ROOT"
T="$TESTENV_LIB_DIR"
t0=$(now_ms)

# Already up? (idempotent)
if [ -f "$ROOT/env.sh" ] && "$T/slapd.sh" status "$ROOT/slapd" >/dev/null 2>&1 \
    && "$T/postgres.sh" status "$ROOT/postgres" >/dev/null 2>&1 \
    && "$T/jupyterhub.sh" status "$ROOT/jupyterhub" >/dev/null 2>&1 \
    && { [ "$WITH_SAMBA" = 0 ] || "$T/samba.sh" status "$ROOT/samba" >/dev/null 2>&1; }; then
    note "already up: $ROOT/env.sh"
    exit 0
fi

mkdir -p "$ROOT/logs"
declare -A PIDS=()
start_bg() {   # start_bg NAME CMD...
    local name="$1"; shift
    ( "$@" >"$ROOT/logs/$name.out" 2>"$ROOT/logs/$name.err" ) &
    PIDS[$name]=$!
}
start_bg slapd "$T/slapd.sh" start "$ROOT/slapd" --org "$ORG" --bulk "$BULK"
start_bg postgres "$T/postgres.sh" start "$ROOT/postgres"
start_bg jupyterhub "$T/jupyterhub.sh" start "$ROOT/jupyterhub"
if [ "$WITH_SAMBA" = 1 ]; then start_bg samba "$T/samba.sh" start "$ROOT/samba"; fi

failed=()
for name in "${!PIDS[@]}"; do
    if wait "${PIDS[$name]}"; then
        tail -1 "$ROOT/logs/$name.err" | sed 's/^/up: /' >&2
    else
        failed+=("$name")
        note "$name FAILED to start; its log:"
        tail -20 "$ROOT/logs/$name.err" >&2 || true
    fi
done
if [ "${#failed[@]}" -ne 0 ]; then
    "$T/down.sh" >&2 || true
    die "could not start: ${failed[*]}"
fi

{
    echo "# AccessSync test environment, written by scripts/testenv/up.sh. Source it:"
    echo "#   . $ROOT/env.sh"
    echo "export ACCESSSYNC_TESTENV=$(shq "$ROOT")"
    echo "export ACCESSSYNC_VENV=$(shq "$VENV")"
    echo "export ACCESSSYNC_TEST_SCRIPTS=$(shq "$T")"
    echo "export ACCESSSYNC_TEST_WITH_SAMBA=$(shq "$WITH_SAMBA")"
    echo "# kubectl, kubernetes-validate, hadolint, pytest from the venv"
    echo "case \":\$PATH:\" in *:$(shq "$VENV/bin"):*) ;; *) export PATH=$(shq "$VENV/bin"):\"\$PATH\" ;; esac"
    echo
    cat "$ROOT/slapd/env.sh"
    if [ "$BULK" -gt 0 ]; then
        echo "export ACCESSSYNC_TEST_LDAP_BULK_BASE=$(shq "ou=bulk,dc=example,dc=org")"
        echo "export ACCESSSYNC_TEST_LDAP_BULK_COUNT=$(shq "$BULK")"
    fi
    echo
    cat "$ROOT/postgres/env.sh"
    echo
    cat "$ROOT/jupyterhub/env.sh"
    if [ "$WITH_SAMBA" = 1 ]; then echo; cat "$ROOT/samba/env.sh"; fi
} > "$ROOT/env.sh.tmp"
mv "$ROOT/env.sh.tmp" "$ROOT/env.sh"

if [ "$SMOKE" = 1 ]; then
    if ! "$T/smoke.sh" "$ROOT/env.sh" >&2; then
        "$T/down.sh" >&2 || true
        die "smoke check failed"
    fi
fi
note "test environment up in $(( $(now_ms) - t0 )) ms: . $ROOT/env.sh"
