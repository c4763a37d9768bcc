#!/usr/bin/env bash
# Stops every server that up.sh started in ${ACCESSSYNC_TESTENV:-$REPO/.testenv} (by PID) and
# removes the directory. Safe to run twice, or when nothing is up.
#
#   scripts/testenv/down.sh [--keep]    # --keep: stop, but leave the files for inspection
set -euo pipefail
TESTENV_NAME=down
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP=()
for a in "$@"; do
    case "$a" in
        --keep) KEEP=(--keep) ;;
        *) die "unknown argument $a" ;;
    esac
done
ROOT="$(abspath "$TESTENV_ROOT")"
T="$TESTENV_LIB_DIR"
[ -d "$ROOT" ] || exit 0
[ -f "$ROOT/$MARKER" ] || die "$ROOT was not made by the test environment; not touching it"

rc=0
for s in samba jupyterhub postgres slapd; do
    if [ -d "$ROOT/$s" ]; then
        "$T/$s.sh" stop "$ROOT/$s" "${KEEP[@]}" || rc=1
    fi
done
# Anything still alive from a PID file under ROOT is a bug: report it (and stop it).
while IFS= read -r f; do
    pid="$(read_pid "$f")"
    if pid_alive "$pid"; then
        note "still running after stop: pid $pid ($f); killing it"
        kill -KILL "$pid" 2>/dev/null || true
        rc=1
    fi
done < <(find "$ROOT" -name '*.pid' -type f 2>/dev/null)
if [ "${#KEEP[@]}" -eq 0 ] && [ "$rc" = 0 ]; then
    remove_env_dir "$ROOT"
fi
exit "$rc"
