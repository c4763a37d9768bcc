#!/usr/bin/env bash
# The README's "one command that sets everything up and runs the main job" on the bundled sample
# organisation:
#
#   scripts/demo.sh [--keep]
#
#   1. scripts/install-deps.sh                 Debian packages + Python venv (JupyterHub)
#   2. scripts/testenv/up.sh --bulk 0          throwaway slapd with the generated sample organisation
#                                              (~60 people; groups jupyter-users, jupyter-admins,
#                                              data-science, ml-platform, finance-analytics, nesting,
#                                              a cycle, awkward names), PostgreSQL and JupyterHub,
#                                              all on 127.0.0.1
#   3. swift build --product accesssync        (unless ACCESSSYNC_BIN points at a binary)
#   4. out/accesssync.yaml                     configuration for those servers; Kubernetes is the
#                                              render directory out/render (no cluster here)
#   5. accesssync migrate; accesssync policy apply policies
#   6. accesssync plan                         the plan, grouped by person and project
#   7. accesssync sync --adopt hub-groups      applies it: manifests into out/render; users, admins
#                                              and groups into the hub; audit rows in PostgreSQL
#   8. accesssync sync                         again: "No changes"
#   9. accesssync audit export --format html   out/audit-report.html
#  10. scripts/testenv/down.sh, unless --keep (then: . .testenv/env.sh;
#      export ACCESSSYNC_CONFIG=out/accesssync.yaml; and try the README's walk-through)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
KEEP=0
for a in "$@"; do
    case "$a" in
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "demo: unknown argument $a" >&2; exit 64 ;;
    esac
done
export ACCESSSYNC_TESTENV="${ACCESSSYNC_TESTENV:-$REPO/.testenv}"
export ACCESSSYNC_VENV="${ACCESSSYNC_VENV:-$REPO/.venv}"
OUT="$REPO/out"
step() { printf '\n=== demo: %s\n' "$*"; }

if [ "$KEEP" = 0 ]; then trap 'scripts/testenv/down.sh' EXIT; fi

step "installing dependencies"
scripts/install-deps.sh

step "starting the servers and loading the sample organisation"
scripts/testenv/up.sh --bulk 0
# shellcheck disable=SC1091
. "$ACCESSSYNC_TESTENV/env.sh"
mkdir -p "$OUT"

BIN="${ACCESSSYNC_BIN:-}"
if [ -z "$BIN" ]; then
    step "building accesssync"
    swift build --product accesssync
    BIN="$REPO/.build/debug/accesssync"
fi

step "writing out/accesssync.yaml and creating the database accesssync_demo"
rm -rf "$OUT/render"
cat > "$OUT/accesssync.yaml" <<EOF
# Written by scripts/demo.sh for the throwaway servers of $ACCESSSYNC_TESTENV.
ldap:
  uri: "$ACCESSSYNC_TEST_LDAP_URI"
  baseDN: "$ACCESSSYNC_TEST_LDAP_BASE"
  bindDN: "$ACCESSSYNC_TEST_LDAP_SYNC_DN"
  bindPasswordFile: "$ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE"
  tls:
    caFile: "$ACCESSSYNC_TEST_LDAP_CA"
  schema: rfc2307bis
  people:
    base: ou=people
  groups:
    base: ou=groups
postgres:
  host: "$ACCESSSYNC_TEST_PG_HOST"
  port: $ACCESSSYNC_TEST_PG_PORT
  database: accesssync_demo
  user: "$ACCESSSYNC_TEST_PG_USER"
  passwordFile: "$ACCESSSYNC_TEST_PG_PASSWORD_FILE"
  sslMode: disable
kubernetes:
  mode: render
  renderDirectory: "$OUT/render"
hub:
  url: "$ACCESSSYNC_TEST_HUB_URL"
  tokenFile: "$ACCESSSYNC_TEST_HUB_TOKEN_FILE"
EOF
export ACCESSSYNC_CONFIG="$OUT/accesssync.yaml"
PGPASSFILE="$ACCESSSYNC_TEST_PG_PASSFILE" psql -q -h "$ACCESSSYNC_TEST_PG_HOST" -p "$ACCESSSYNC_TEST_PG_PORT" \
    -U "$ACCESSSYNC_TEST_PG_USER" -d postgres -c "DROP DATABASE IF EXISTS accesssync_demo WITH (FORCE)" \
    -c "CREATE DATABASE accesssync_demo"

step "accesssync migrate"
"$BIN" migrate

step "accesssync policy apply policies"
"$BIN" policy apply "$REPO/policies" | tail -n 3

step "accesssync plan"
rc=0
"$BIN" plan -q || rc=$?
# 2 = changes pending, as expected on an empty cluster and hub.
if [ "$rc" != 2 ]; then echo "demo: plan exited $rc (expected 2: changes pending)" >&2; exit 1; fi

step "accesssync sync --adopt hub-groups   (the hub starts with hand-made groups: adopted, audited)"
"$BIN" sync -q --adopt hub-groups | tail -n 4

step "accesssync sync   (again: nothing to do)"
"$BIN" sync -q | head -n 1

step "accesssync audit export --format html --out out/audit-report.html"
"$BIN" audit export --format html --out "$OUT/audit-report.html"

echo
echo "Manifests: out/render ($(find "$OUT/render" -name '*.yaml' | wc -l) files). Audit report: out/audit-report.html."
if [ "$KEEP" = 1 ]; then
    echo "Servers left running: . $ACCESSSYNC_TESTENV/env.sh; export ACCESSSYNC_CONFIG=$OUT/accesssync.yaml"
    echo "Stop them with scripts/testenv/down.sh."
fi
