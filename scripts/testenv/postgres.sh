#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests and benchmarks.
#
#   postgres.sh start [DIR]     # initdb + start on 127.0.0.1:<free port>, socket in DIR/sock
#   postgres.sh stop  [DIR] [--keep]
#   postgres.sh env   [DIR]     # print the `export ...` lines (also in DIR/env.sh)
#   postgres.sh status [DIR]
#
# DIR defaults to ${ACCESSSYNC_TESTENV:-$REPO/.testenv}/postgres. initdb refuses to run as root,
# so DIR/data and DIR/sock belong to the `postgres` user and the server runs as `postgres`
# (runuser). Superuser `postgres`, password in DIR/postgres.pw (mode 600, no newline); TCP
# connections need scram-sha-256, the socket in DIR/sock is `trust` (root-only directory).
# DIR/pgpass is a libpq password file (host:port:*:postgres:password). The server is tuned for
# throwaway tests (fsync, synchronous_commit and full_page_writes off; 300 connections): tests
# create one database each and can run in parallel.
#
# Stopped by PID: the postmaster's PID (DIR/data/postmaster.pid, copied to DIR/postgres.pid)
# gets SIGINT (fast shutdown), then SIGKILL if it lingers.
set -euo pipefail
TESTENV_NAME=postgres
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STOP_SIGNAL=INT

PG_BIN="${PG_BIN:-}"
if [ -z "$PG_BIN" ]; then
    for v in 15 16 17 14; do
        if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then PG_BIN="/usr/lib/postgresql/$v/bin"; break; fi
    done
fi

usage() { sed -n '2,7p' "$0" >&2; exit 64; }
cmd="${1:-}"; [ -n "$cmd" ] || usage; shift
DIR=""; KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) KEEP=1; shift ;;
        -h|--help) usage ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$DIR" ] || die "one directory only"; DIR="$1"; shift ;;
    esac
done
DIR="$(abspath "${DIR:-$TESTENV_ROOT/postgres}")"

server_root() { if [ -f "$DIR/server-root" ]; then cat "$DIR/server-root"; else echo "$DIR"; fi; }

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

write_env() {
    local port; port="$(cat "$DIR/port")"
    local url="postgresql://postgres@127.0.0.1:$port/postgres"
    {
        echo "# PostgreSQL test environment ($DIR)"
        echo "export ACCESSSYNC_TEST_PG_HOST='127.0.0.1'"
        echo "export ACCESSSYNC_TEST_PG_PORT=$(shq "$port")"
        echo "export ACCESSSYNC_TEST_PG_USER='postgres'"
        echo "export ACCESSSYNC_TEST_PG_PASSFILE=$(shq "$DIR/pgpass")"
        echo "export ACCESSSYNC_TEST_PG_PASSWORD_FILE=$(shq "$DIR/postgres.pw")"
        echo "export ACCESSSYNC_TEST_PG_SOCKET_DIR=$(shq "$(server_root)/sock")"
        echo "# conninfo without the password: libpq reads it from PGPASSFILE / passfile="
        echo "export ACCESSSYNC_TEST_PG_ADMIN_URL=$(shq "$url")"
        echo "export ACCESSSYNC_TEST_PG_ADMIN_CONNINFO=$(shq "host=127.0.0.1 port=$port user=postgres dbname=postgres passfile=$DIR/pgpass")"
        echo "export ACCESSSYNC_TEST_PG_PID=$(shq "$(read_pid "$DIR/postgres.pid")")"
        echo "export ACCESSSYNC_TEST_PG_DIR=$(shq "$DIR")"
        echo "# libpq's own variables, so psql and libpq default to this server"
        echo "export PGHOST='127.0.0.1'"
        echo "export PGPORT=$(shq "$port")"
        echo "export PGUSER='postgres'"
        echo "export PGPASSFILE=$(shq "$DIR/pgpass")"
    } > "$DIR/env.sh.tmp"
    mv "$DIR/env.sh.tmp" "$DIR/env.sh"
}

pg_ready() {
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -d postgres -U postgres
}

do_start() {
    [ -n "$PG_BIN" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (scripts/install-deps.sh)"
    if pid_alive "$(read_pid "$DIR/postgres.pid")" && [ -f "$DIR/env.sh" ]; then
        note "already running (pid $(read_pid "$DIR/postgres.pid")) in $DIR"
        cat "$DIR/env.sh"; return 0
    fi
    local t0; t0=$(now_ms)
    if [ -f "$DIR/$MARKER" ]; then
        stop_pid_signal "$DIR/postgres.pid"
        if [ -f "$DIR/server-root" ]; then remove_env_dir "$(cat "$DIR/server-root")"; fi
        remove_env_dir "$DIR"
    fi
    claim_env_dir "$DIR"
    chmod 711 "$DIR"   # the postgres user must traverse it to reach data/ and sock/
    # If a parent directory is closed to others (a clone under /root, say), the server's files go
    # to a temp directory instead, linked from DIR and removed by `stop`.
    local root="$DIR"
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$DIR"; then
        root="$(mktemp -d /tmp/accesssync-pg.XXXXXX)"
        chmod 711 "$root"
        touch "$root/$MARKER"
        echo "$root" > "$DIR/server-root"
        note "postgres cannot reach $DIR; server files in $root"
    fi
    make_password_file "$DIR/postgres.pw"
    mkdir -p "$root/data" "$root/sock" "$root/init" "$root/log"
    chmod 700 "$root/data" "$root/sock" "$root/init" "$root/log"
    if [ "$root" != "$DIR" ]; then
        for d in data sock log; do ln -s "$root/$d" "$DIR/$d"; done
    fi
    # initdb --pwfile must be readable by postgres: a copy in a postgres-only directory, removed
    # right after.
    install -m 600 "$DIR/postgres.pw" "$root/init/pw"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$root/data" "$root/sock" "$root/init" "$root/log"; fi
    as_pg "$PG_BIN/initdb" -D "$root/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --pwfile="$root/init/pw" --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$root/initdb.log" 2>&1 \
        || { rm -rf "$root/init"; cat "$root/initdb.log" >&2; die "initdb failed"; }
    rm -rf "$root/init"

    local attempt port pid=""
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        cat > "$root/data/postgresql.auto.conf" <<EOF
# Written by scripts/testenv/postgres.sh: a throwaway test server.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$root/sock'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
max_connections = 300
shared_buffers = '128MB'
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_connections = off
log_statement = 'none'
EOF
        chown postgres:postgres "$root/data/postgresql.auto.conf" 2>/dev/null || true
        if as_pg "$PG_BIN/pg_ctl" -D "$root/data" -w -t 30 -l "$root/log/postgres.log" start >/dev/null 2>&1; then
            pid="$(head -1 "$root/data/postmaster.pid")"
            if pid_alive "$pid" && wait_until 10 pg_ready "$port"; then break; fi
        fi
        note "postgres did not start on port $port (attempt $attempt):"
        tail -3 "$root/log/postgres.log" >&2 || true
        if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; sleep 1; fi
        pid=""
    done
    [ -n "$pid" ] || die "postgres failed to start"
    echo "$pid" > "$DIR/postgres.pid"
    STARTED_PIDFILES+=("$DIR/postgres.pid")
    echo "$port" > "$DIR/port"
    (umask 077; printf '127.0.0.1:%s:*:postgres:%s\n' "$port" "$(cat "$DIR/postgres.pw")" > "$DIR/pgpass")
    # Sanity: a scram login over TCP with the pgpass file.
    PGPASSFILE="$DIR/pgpass" "$PG_BIN/psql" -X -q -w -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c 'select 1' >/dev/null || die "cannot log in over TCP with the password file"
    write_env
    note "started pid $pid on 127.0.0.1:$port in $(( $(now_ms) - t0 )) ms -> $DIR"
    cat "$DIR/env.sh"
}

# SIGINT = fast shutdown (SIGTERM would wait for every client to disconnect).
stop_pid_signal() { stop_pid "$1" 20 INT; }

do_stop() {
    [ -d "$DIR" ] || return 0
    [ -f "$DIR/$MARKER" ] || die "$DIR was not made by the test environment; not touching it"
    stop_pid_signal "$DIR/postgres.pid"
    if [ "$KEEP" = 0 ]; then
        if [ -f "$DIR/server-root" ]; then remove_env_dir "$(cat "$DIR/server-root")"; fi
        remove_env_dir "$DIR"
    fi
    note "stopped ($DIR)"
}

case "$cmd" in
    start) do_start ;;
    stop) do_stop ;;
    env) [ -f "$DIR/env.sh" ] || die "not started: $DIR/env.sh missing"; cat "$DIR/env.sh" ;;
    status)
        if pid_alive "$(read_pid "$DIR/postgres.pid")"; then echo "running pid $(read_pid "$DIR/postgres.pid") ($DIR)"; else echo "stopped ($DIR)"; exit 1; fi ;;
    *) usage ;;
esac
