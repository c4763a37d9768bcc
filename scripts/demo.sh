#!/usr/bin/env bash
# The README's "one command that sets everything up and runs the main job" on the bundled sample
# organisation:
#
#   scripts/demo.sh [--keep]
#
#   1. scripts/install-deps.sh                         Debian packages + Python venv
#   2. scripts/testenv/up.sh --bulk 0                  slapd with the generated small org
#                                                      (scripts/testenv/gen-org.py --size small:
#                                                      ~60 people, groups jupyter-users,
#                                                      jupyter-admins, data-science, ml-platform,
#                                                      finance-analytics, ...), PostgreSQL, JupyterHub
#   3. ldapsearch -LLL (paged, as the sync reader, over StartTLS) exports people and groups, with
#      entryUUID and memberOf, to out/org.ldif — the directory as the render job sees it
#   4. swift build --product accesssync (unless ACCESSSYNC_BIN points at a binary)
#   5. accesssync render --directory out/org.ldif --policy policies --out out/render
#      (one YAML manifest per Kubernetes object plus the hub state as JSON)
#   6. scripts/testenv/down.sh, unless --keep (then: . .testenv/env.sh to use the servers)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
KEEP=0
for a in "$@"; do
    case "$a" in
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
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

step "exporting the directory to out/org.ldif"
mkdir -p "$OUT"
LDAPTLS_CACERT="$ACCESSSYNC_TEST_LDAP_CA" ldapsearch -x -LLL -ZZ -H "$ACCESSSYNC_TEST_LDAP_URI" \
    -D "$ACCESSSYNC_TEST_LDAP_SYNC_DN" -y "$ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE" \
    -b "$ACCESSSYNC_TEST_LDAP_BASE" -E pr=500/noprompt \
    '(|(objectClass=inetOrgPerson)(objectClass=groupOfNames)(objectClass=posixGroup))' \
    '*' entryUUID memberOf > "$OUT/org.ldif"
cp "$ACCESSSYNC_TEST_LDAP_MANIFEST" "$OUT/org.json"
echo "$(grep -c '^dn' "$OUT/org.ldif") entries in out/org.ldif (manifest: out/org.json)"

BIN="${ACCESSSYNC_BIN:-}"
if [ -z "$BIN" ]; then
    step "building accesssync"
    swift build --product accesssync
    BIN="$REPO/.build/debug/accesssync"
fi

step "render: $BIN render --directory out/org.ldif --policy policies --out out/render"
rm -rf "$OUT/render"
"$BIN" render --directory "$OUT/org.ldif" --policy "$REPO/policies" --out "$OUT/render"
if [ ! -d "$OUT/render" ] || [ -z "$(find "$OUT/render" -type f -print -quit)" ]; then
    echo "demo: render produced nothing in out/render" >&2
    exit 1
fi
echo
echo "Rendered into out/render: $(find "$OUT/render" -type f | wc -l) files."
if [ "$KEEP" = 1 ]; then
    echo "Servers left running: . $ACCESSSYNC_TESTENV/env.sh ; scripts/testenv/down.sh to stop them."
fi
