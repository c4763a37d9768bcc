# Shared helpers for scripts/testenv/*.sh (sourced, not executed).
# shellcheck shell=bash

TESTENV_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="${REPO:-$(cd "$TESTENV_LIB_DIR/../.." && pwd)}"
TESTENV_ROOT="${ACCESSSYNC_TESTENV:-$REPO/.testenv}"
VENV="${ACCESSSYNC_VENV:-$REPO/.venv}"
# Marker file: `stop` removes a directory only if it carries this file, so a wrong argument can
# never delete anything we did not create.
MARKER=".accesssync-testenv"

# The real interpreter, not pyenv's shim (a shell script that costs ~0.3 s per call).
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$VENV/bin/python" ]; then PYTHON="$VENV/bin/python"
    else PYTHON="$(python3 -c 'import sys; print(sys.executable)')"; fi
fi
export PYTHON

die() { printf '%s: error: %s\n' "${TESTENV_NAME:-testenv}" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "${TESTENV_NAME:-testenv}" "$*" >&2; }

# A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it). Callers retry the
# start on a bind failure, since another process may take the port in between.
# free_port [N]: prints N distinct ports (default 1), space-separated.
free_port() {
    "$PYTHON" - "${1:-1}" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

port_is_free() {
    "$PYTHON" - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# Writes a random password (no trailing newline) to FILE with mode 600.
make_password_file() {
    local file="$1"
    (umask 077; printf 'T3st-%s' "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')" > "$file")
    chmod 600 "$file"
}

pid_alive() {
    local pid="$1"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != "Z" ]
}

read_pid() { [ -f "$1" ] && tr -d ' \n' < "$1" || true; }

# stop_pid PIDFILE [TIMEOUT_S] [SIGNAL]: SIGNAL (default TERM), wait, then KILL. Only ever the
# PID in the file.
stop_pid() {
    local pidfile="$1" timeout="${2:-15}" sig="${3:-TERM}" pid i
    pid="$(read_pid "$pidfile")"
    [ -n "$pid" ] || return 0
    if pid_alive "$pid"; then
        kill -"$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < timeout * 10; i++)); do
            pid_alive "$pid" || break
            sleep 0.1
        done
        if pid_alive "$pid"; then
            note "pid $pid did not stop after ${timeout}s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.1; done
        fi
    fi
    rm -f "$pidfile"
}

# Removes DIR if (and only if) it carries our marker.
remove_env_dir() {
    local dir="$1"
    if [ -d "$dir" ]; then
        if [ -f "$dir/$MARKER" ]; then
            rm -rf "$dir"
        else
            note "not removing $dir: no $MARKER marker in it"
        fi
    fi
}

# Prepares DIR: refuses a non-empty directory without our marker.
claim_env_dir() {
    local dir="$1"
    if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && [ ! -f "$dir/$MARKER" ]; then
        die "$dir exists, is not empty and was not made by the test environment"
    fi
    mkdir -p "$dir"
    touch "$dir/$MARKER"
}

abspath() { realpath -m -- "$1"; }

# Shell-quotes a value for an `export K='v'` line.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# wait_until TIMEOUT_S CMD...: polls CMD every 0.1 s.
wait_until() {
    local timeout="$1" i; shift
    for ((i = 0; i < timeout * 10; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 1
}

now_ms() { date +%s%3N; }

# make_test_tls DIR [EXTRA_DNS_SAN]: a test CA (ca.pem), a server cert/key for 127.0.0.1 and
# localhost (server.pem/.key, mode 600 key), a client cert/key from the same CA, and an unrelated
# CA (wrong-ca.pem) for "wrong CA" tests. EC P-256: fast to make.
make_test_tls() {
    local t="$1" extra_san="${2:+,DNS:$2}"
    mkdir -p "$t"
    (
        umask 077
        cd "$t"
        local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
        openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 3650 -subj "/CN=AccessSync Test CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -x509 "${ec[@]}" -keyout wrong-ca.key -out wrong-ca.pem -days 3650 \
            -subj "/CN=AccessSync Unrelated CA" -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
        openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$extra_san" > server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
            -days 825 -extfile server.ext 2>/dev/null
        openssl req "${ec[@]}" -keyout client.key -out client.csr -subj "/CN=accesssync-test-client" 2>/dev/null
        printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' > client.ext
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem \
            -days 825 -extfile client.ext 2>/dev/null
        rm -f ./*.csr ./*.ext ./*.srl wrong-ca.key
        chmod 644 ca.pem wrong-ca.pem server.pem client.pem
    )
}


# A start that fails half-way stops what it had started: register each PID file here after the
# process starts; on a non-zero exit they are stopped (PID, then KILL).
STARTED_PIDFILES=()
STOP_SIGNAL=TERM
_on_start_exit() {
    local rc=$? f
    if [ "$rc" -ne 0 ]; then
        for f in "${STARTED_PIDFILES[@]}"; do stop_pid "$f" 10 "$STOP_SIGNAL"; done
    fi
    return "$rc"
}
trap _on_start_exit EXIT
