#!/usr/bin/env bash
# Installs what AccessSync's tests, benchmarks and demo need, skipping what is already there.
#
#   scripts/install-deps.sh            # Debian packages + Python venv
#   scripts/install-deps.sh --no-apt   # only the venv
#   scripts/install-deps.sh --no-venv  # only the Debian packages
#
# Debian: slapd ldap-utils libldap2-dev libpq-dev samba samba-ad-dc openssl (PostgreSQL 15 server
# and client are expected in the base image; they are installed too if missing). Installing may
# upgrade the PostgreSQL 15 packages. System services are kept from starting during the install
# (policy-rc.d): the test environments run their own servers (scripts/testenv/*.sh).
#
# Python: a venv at ${ACCESSSYNC_VENV:-$REPO/.venv} with scripts/requirements-test.txt (and
# scripts/kts/requirements.txt if it exists). A stamp file holding the hash of the requirement
# files makes a re-run a no-op.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ACCESSSYNC_VENV:-$REPO/.venv}"
DO_APT=1
DO_VENV=1
for arg in "$@"; do
    case "$arg" in
        --no-apt) DO_APT=0 ;;
        --no-venv) DO_VENV=0 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "install-deps: unknown argument: $arg" >&2; exit 64 ;;
    esac
done

log() { printf 'install-deps: %s\n' "$*" >&2; }

# Root in CI and on the dev machines; sudo otherwise.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -E "$@"; fi; }

# ---------------------------------------------------------------- Debian packages
APT_PACKAGES=(slapd ldap-utils libldap2-dev libpq-dev samba samba-ad-dc openssl
              postgresql-15 postgresql-client-15 curl ca-certificates)

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

if [ "$DO_APT" = 1 ]; then
    missing=()
    for p in "${APT_PACKAGES[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "Debian packages present"
    else
        log "installing Debian packages: ${missing[*]}"
        t0=$(date +%s)
        # Keep the packages' own services (slapd, smbd, nmbd, samba-ad-dc) from starting: they
        # would take ports 389/636 that the Samba test environment needs, and we run our own.
        created_policy=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
            as_root chmod 755 /usr/sbin/policy-rc.d
            created_policy=1
        fi
        cleanup_policy() { if [ "$created_policy" = 1 ]; then as_root rm -f /usr/sbin/policy-rc.d; fi; }
        trap cleanup_policy EXIT
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -qq
        as_root apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
        cleanup_policy
        trap - EXIT
        log "Debian packages installed in $(( $(date +%s) - t0 )) s"
    fi
    # A system slapd/samba started by an install without policy-rc.d would hold 389/636 or the
    # slapd pid files. We never kill processes we did not start; we only warn.
    for svc in slapd samba smbd nmbd; do
        if pid=$(pidof -s "$svc" 2>/dev/null); then
            if ! grep -qa 'ACCESSSYNC_TESTENV' "/proc/$pid/environ" 2>/dev/null; then
                log "warning: a '$svc' process (pid $pid) not started by the test environment is running"
            fi
        fi
    done
fi

# ---------------------------------------------------------------- Python venv
if [ "$DO_VENV" = 1 ]; then
    reqs=("$REPO/scripts/requirements-test.txt")
    if [ -f "$REPO/scripts/kts/requirements.txt" ]; then reqs+=("$REPO/scripts/kts/requirements.txt"); fi
    PY="${PYTHON:-python3}"
    stamp_want="$( { "$PY" -c 'import sys; print(sys.version)'; cat "${reqs[@]}"; } | sha256sum | cut -d' ' -f1)"
    stamp_file="$VENV/.accesssync-requirements.sha256"
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_want" ]; then
        log "venv up to date: $VENV"
    else
        t0=$(date +%s)
        if [ ! -x "$VENV/bin/python" ]; then
            log "creating venv $VENV"
            "$PY" -m venv "$VENV"
        fi
        pip_args=()
        for r in "${reqs[@]}"; do pip_args+=(-r "$r"); done
        log "pip install ${pip_args[*]}"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${pip_args[@]}"
        printf '%s\n' "$stamp_want" > "$stamp_file"
        log "venv ready in $(( $(date +%s) - t0 )) s: $VENV"
    fi
fi
