#!/usr/bin/env bash
# A real JupyterHub (PyPI, from the venv) for tests, configured like production.
#
#   jupyterhub.sh start [DIR] [--manage-groups]
#   jupyterhub.sh stop  [DIR] [--keep]
#   jupyterhub.sh env   [DIR]
#   jupyterhub.sh status [DIR]
#
# DIR defaults to ${ACCESSSYNC_TESTENV:-$REPO/.testenv}/jupyterhub. Configuration:
# scripts/testenv/hub/jupyterhub_config.py (+ testhub.py). In short:
#   - hub on 127.0.0.1:<free port>; REST API at http://127.0.0.1:PORT/hub/api, login form at
#     http://127.0.0.1:PORT/hub/login (no proxy: a no-op Proxy subclass keeps routes in a dict);
#   - sqlite database and cookie secret in DIR;
#   - JupyterHub's SharedPasswordAuthenticator with the password in DIR/user.pw, and
#     allow_existing_users = True, allow_all = False, no allowed_users/allowed_groups: ONLY users
#     that exist in the hub can log in (create them through the API; delete = revoke);
#   - service `accesssync`, admin, api_token in DIR/accesssync.token;
#   - InProcessSpawner: starting a server opens an HTTP listener inside the hub process;
#   - Authenticator.manage_groups = False, or True with --manage-groups (for the negative test).
#     Checked here with JupyterHub 6.1.1: with manage_groups = True the group REST API still
#     answers (POST /groups/g -> 201, POST /groups/g/users -> 200; the 400 "Group management via
#     API is disabled" check is deprecated since 5.3), but every login then replaces the user's
#     groups with the authenticator's (SharedPasswordAuthenticator: none), so mirrored groups
#     silently vanish. /hub/api/info names the authenticator class but not manage_groups.
# Stopped by PID (SIGTERM, then SIGKILL).
set -euo pipefail
TESTENV_NAME=jupyterhub
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,7p' "$0" >&2; exit 64; }
cmd="${1:-}"; [ -n "$cmd" ] || usage; shift
DIR=""; KEEP=0; MANAGE_GROUPS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) KEEP=1; shift ;;
        --manage-groups) MANAGE_GROUPS=1; shift ;;
        -h|--help) usage ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$DIR" ] || die "one directory only"; DIR="$1"; shift ;;
    esac
done
DIR="$(abspath "${DIR:-$TESTENV_ROOT/jupyterhub}")"
HUB_BIN="$VENV/bin/jupyterhub"

write_env() {
    local port; port="$(cat "$DIR/port")"
    {
        echo "# JupyterHub test environment ($DIR)"
        echo "export ACCESSSYNC_TEST_HUB_URL=$(shq "http://127.0.0.1:$port/hub/api")"
        echo "export ACCESSSYNC_TEST_HUB_BASE_URL=$(shq "http://127.0.0.1:$port/hub/")"
        echo "export ACCESSSYNC_TEST_HUB_LOGIN_URL=$(shq "http://127.0.0.1:$port/hub/login")"
        echo "export ACCESSSYNC_TEST_HUB_TOKEN_FILE=$(shq "$DIR/accesssync.token")"
        echo "export ACCESSSYNC_TEST_HUB_USER_PASSWORD_FILE=$(shq "$DIR/user.pw")"
        echo "# for curl: -H @\$ACCESSSYNC_TEST_HUB_AUTH_HEADER_FILE (keeps the token out of argv)"
        echo "export ACCESSSYNC_TEST_HUB_AUTH_HEADER_FILE=$(shq "$DIR/auth.header")"
        echo "export ACCESSSYNC_TEST_HUB_MANAGE_GROUPS=$(shq "$MANAGE_GROUPS")"
        echo "export ACCESSSYNC_TEST_HUB_PID=$(shq "$(read_pid "$DIR/jupyterhub.pid")")"
        echo "export ACCESSSYNC_TEST_HUB_DIR=$(shq "$DIR")"
    } > "$DIR/env.sh.tmp"
    mv "$DIR/env.sh.tmp" "$DIR/env.sh"
}

hub_ready() {
    curl -fsS --max-time 2 "http://127.0.0.1:$1/hub/api" | grep -q '"version"'
}

do_start() {
    [ -x "$HUB_BIN" ] || die "no jupyterhub in $VENV (run scripts/install-deps.sh)"
    if pid_alive "$(read_pid "$DIR/jupyterhub.pid")" && [ -f "$DIR/env.sh" ]; then
        note "already running (pid $(read_pid "$DIR/jupyterhub.pid")) in $DIR"
        cat "$DIR/env.sh"; return 0
    fi
    local t0; t0=$(now_ms)
    if [ -f "$DIR/$MARKER" ]; then
        stop_pid "$DIR/jupyterhub.pid" 10
        remove_env_dir "$DIR"
    fi
    claim_env_dir "$DIR"
    chmod 700 "$DIR"
    make_password_file "$DIR/user.pw"
    make_password_file "$DIR/accesssync.token"
    cp "$TESTENV_LIB_DIR/hub/jupyterhub_config.py" "$TESTENV_LIB_DIR/hub/testhub.py" "$DIR/"

    local attempt port pid=""
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        (
            cd "$DIR"
            # Only paths and the port go through the environment; secrets stay in files.
            ACCESSSYNC_TESTENV_PROCESS=1 ACCESSSYNC_HUB_DIR="$DIR" ACCESSSYNC_HUB_PORT="$port" \
                ACCESSSYNC_HUB_MANAGE_GROUPS="$MANAGE_GROUPS" \
                exec setsid "$HUB_BIN" -f "$DIR/jupyterhub_config.py" </dev/null >"$DIR/jupyterhub.log" 2>&1
        ) &
        pid=$!
        echo "$pid" > "$DIR/jupyterhub.pid"
        if wait_until 60 hub_ready "$port"; then
            if pid_alive "$pid"; then break; fi
        fi
        note "hub did not answer on port $port (attempt $attempt); log tail:"
        tail -5 "$DIR/jupyterhub.log" >&2 || true
        stop_pid "$DIR/jupyterhub.pid" 5
        pid=""
    done
    [ -n "$pid" ] || die "jupyterhub failed to start"
    STARTED_PIDFILES+=("$DIR/jupyterhub.pid")
    echo "$port" > "$DIR/port"
    # The service token works and is admin.
    (umask 077; printf 'Authorization: token %s\n' "$(cat "$DIR/accesssync.token")" > "$DIR/auth.header")
    curl -fsS --max-time 5 -H "@$DIR/auth.header" \
        "http://127.0.0.1:$port/hub/api/user" -o "$DIR/whoami.json" \
        || die "the accesssync service token was refused"
    write_env
    note "started pid $pid on http://127.0.0.1:$port/hub/api (manage_groups=$MANAGE_GROUPS) in $(( $(now_ms) - t0 )) ms -> $DIR"
    cat "$DIR/env.sh"
}

do_stop() {
    [ -d "$DIR" ] || return 0
    [ -f "$DIR/$MARKER" ] || die "$DIR was not made by the test environment; not touching it"
    stop_pid "$DIR/jupyterhub.pid" 15
    if [ "$KEEP" = 0 ]; then remove_env_dir "$DIR"; fi
    note "stopped ($DIR)"
}

case "$cmd" in
    start) do_start ;;
    stop) do_stop ;;
    env) [ -f "$DIR/env.sh" ] || die "not started: $DIR/env.sh missing"; cat "$DIR/env.sh" ;;
    status)
        if pid_alive "$(read_pid "$DIR/jupyterhub.pid")"; then echo "running pid $(read_pid "$DIR/jupyterhub.pid") ($DIR)"; else echo "stopped ($DIR)"; exit 1; fi ;;
    *) usage ;;
esac
