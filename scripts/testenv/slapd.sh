#!/usr/bin/env bash
# A throwaway OpenLDAP slapd for tests, benchmarks and the demo.
#
#   slapd.sh start [DIR] [--org small|10k|100k|none|FILE.ldif] [--bulk N] [--seed S]
#                        [--load online|offline]
#   slapd.sh stop  [DIR] [--keep]      # kill by PID, then remove DIR (only if we made it)
#   slapd.sh env   [DIR]               # print the `export ...` lines (also in DIR/env.sh)
#   slapd.sh status [DIR]
#
# DIR defaults to ${ACCESSSYNC_TESTENV:-$REPO/.testenv}/slapd; any directory works, so a test can
# run its own instance (e.g. to kill it mid-search): ports are picked free at start.
#
# What it builds (all under DIR):
#   slapd.d/       its own cn=config, made offline with `slapadd -n0` from config.ldif:
#                  schemas core, cosine, inetorgperson, nis, plus `accesssync` (below) and the
#                  ppolicy module's schema (pwdAccountLockedTime); back_mdb (olcDbMaxSize 8 GiB,
#                  sparse; olcDbNoSync TRUE), overlays memberof and syncprov; TLS.
#   data/          the mdb database for dc=example,dc=org
#   tls/           ca.pem (the test CA), server.pem/.key (SAN IP:127.0.0.1, DNS:localhost),
#                  client.pem/.key (a client certificate from the same CA; slapd asks for one with
#                  TLSVerifyClient=try), wrong-ca.pem (an unrelated CA, for "wrong CA" tests)
#   *.pw           passwords, mode 600, no trailing newline (ldapsearch -y FILE)
#   org.ldif, org.json   the loaded organisation and its manifest (gen-org.py --entry-uuid:
#                  deterministic entryUUIDs, listed in the manifest)
#   slapd.pid, slapd.log, env.sh
#
# Custom schema `accesssync` (OID arc 1.3.6.1.4.1.32473 is RFC 5612's example enterprise):
#   objectClass posixGroupAux AUXILIARY MUST gidNumber MAY (memberUid $ description)
# nis.schema's posixGroup is STRUCTURAL and so cannot be combined with groupOfNames; rfc2307bis
# (not shipped by Debian) makes posixGroup auxiliary instead. We keep nis (RFC 2307) intact for
# the ou=posix groups and give rfc2307bis-style groups `groupOfNames` + `posixGroupAux`: member
# DNs, nesting, and a gidNumber, which is what rfc2307bis readers look at.
#
# Accounts: rootdn cn=admin,dc=example,dc=org (admin.pw); cn=admin,cn=config (same password) for
# tests that change limits or ACLs at run time; under ou=services:
#   cn=sync      reads everything (member, memberUid, entryUUID, pwdAccountLockedTime,
#                shadowExpire, memberOf...), limits size/size.pr/size.prtotal/time unlimited
#   cn=limited   reads everything, default limits (size 500: a paged search gets rc=4 past 500)
#   cn=nomember  reads everything except member and memberUid (silently absent)
#
# Loading: --load online (default for small and FILE) adds the org with ldapadd after start, so
# the memberof overlay sets memberOf; --load offline (default for 10k and 100k) uses `slapadd -q`
# before start: fast, but slapadd bypasses overlays, so there is NO memberOf on those entries.
# (Online, memberof rewrites every member entry per group: 10k people took ~40 s here.)
# Base entries and the service accounts are always loaded offline (they are not group members).
set -euo pipefail
TESTENV_NAME=slapd
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_DN="dc=example,dc=org"
ADMIN_DN="cn=admin,$BASE_DN"
SYNC_DN="cn=sync,ou=services,$BASE_DN"
LIMITED_DN="cn=limited,ou=services,$BASE_DN"
NOMEMBER_DN="cn=nomember,ou=services,$BASE_DN"
SLAPD_BIN="${SLAPD_BIN:-/usr/sbin/slapd}"
SLAPADD_BIN="${SLAPADD_BIN:-/usr/sbin/slapadd}"

usage() { sed -n '2,12p' "$0" >&2; exit 64; }

cmd="${1:-}"; [ -n "$cmd" ] || usage; shift
DIR=""
ORG="small"; BULK=0; SEED=1; LOAD=""; KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --org) ORG="$2"; shift 2 ;;
        --bulk) BULK="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --load) LOAD="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$DIR" ] || die "one directory only"; DIR="$1"; shift ;;
    esac
done
DIR="$(abspath "${DIR:-$TESTENV_ROOT/slapd}")"

write_env() {
    local ldap_port ldaps_port
    read -r ldap_port ldaps_port < "$DIR/ports"
    {
        echo "# slapd test environment ($DIR)"
        echo "export ACCESSSYNC_TEST_LDAP_URI=$(shq "ldap://127.0.0.1:$ldap_port")"
        echo "export ACCESSSYNC_TEST_LDAPS_URI=$(shq "ldaps://127.0.0.1:$ldaps_port")"
        echo "export ACCESSSYNC_TEST_LDAP_BASE=$(shq "$BASE_DN")"
        echo "export ACCESSSYNC_TEST_LDAP_CA=$(shq "$DIR/tls/ca.pem")"
        echo "export ACCESSSYNC_TEST_LDAP_WRONG_CA=$(shq "$DIR/tls/wrong-ca.pem")"
        echo "export ACCESSSYNC_TEST_LDAP_CLIENT_CERT=$(shq "$DIR/tls/client.pem")"
        echo "export ACCESSSYNC_TEST_LDAP_CLIENT_KEY=$(shq "$DIR/tls/client.key")"
        echo "export ACCESSSYNC_TEST_LDAP_ADMIN_DN=$(shq "$ADMIN_DN")"
        echo "export ACCESSSYNC_TEST_LDAP_ADMIN_PASSWORD_FILE=$(shq "$DIR/admin.pw")"
        echo "export ACCESSSYNC_TEST_LDAP_CONFIG_DN=$(shq "cn=admin,cn=config")"
        echo "export ACCESSSYNC_TEST_LDAP_SYNC_DN=$(shq "$SYNC_DN")"
        echo "export ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE=$(shq "$DIR/sync.pw")"
        echo "export ACCESSSYNC_TEST_LDAP_LIMITED_DN=$(shq "$LIMITED_DN")"
        echo "export ACCESSSYNC_TEST_LDAP_LIMITED_PASSWORD_FILE=$(shq "$DIR/limited.pw")"
        echo "export ACCESSSYNC_TEST_LDAP_NOMEMBER_DN=$(shq "$NOMEMBER_DN")"
        echo "export ACCESSSYNC_TEST_LDAP_NOMEMBER_PASSWORD_FILE=$(shq "$DIR/nomember.pw")"
        if [ -f "$DIR/org.json" ]; then
            echo "export ACCESSSYNC_TEST_LDAP_MANIFEST=$(shq "$DIR/org.json")"
            echo "export ACCESSSYNC_TEST_LDAP_ORG_LDIF=$(shq "$DIR/org.ldif")"
        fi
        echo "export ACCESSSYNC_TEST_SLAPD_PID=$(shq "$(read_pid "$DIR/slapd.pid")")"
        echo "export ACCESSSYNC_TEST_SLAPD_DIR=$(shq "$DIR")"
    } > "$DIR/env.sh.tmp"
    mv "$DIR/env.sh.tmp" "$DIR/env.sh"
}

hash_pw() { "${SLAPPASSWD_BIN:-/usr/sbin/slappasswd}" -h '{SSHA}' -T "$1"; }

write_config_ldif() {
    local admin_hash="$1"
    local strip='/^#/d'
    {
        cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $DIR/slapd.pid
olcArgsFile: $DIR/slapd.args
olcLogLevel: none
olcTLSCACertificateFile: $DIR/tls/ca.pem
olcTLSCertificateFile: $DIR/tls/server.pem
olcTLSCertificateKeyFile: $DIR/tls/server.key
olcTLSVerifyClient: try

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: {0}back_mdb
olcModuleLoad: {1}memberof
olcModuleLoad: {2}syncprov
olcModuleLoad: {3}ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

EOF
        for s in core cosine inetorgperson nis; do
            sed -e "$strip" "/etc/ldap/schema/$s.ldif"
            echo
        done
        cat <<EOF
dn: cn=accesssync,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: accesssync
olcObjectClasses: ( 1.3.6.1.4.1.32473.1.2.1 NAME 'posixGroupAux' DESC 'rfc2307bis-style posixGroup as an auxiliary class, to combine with groupOfNames' SUP top AUXILIARY MUST gidNumber MAY ( memberUid $ description ) )

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500
olcAccess: {0}to dn.base="" by * read
olcAccess: {1}to dn.base="cn=Subschema" by * read

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcRootDN: cn=admin,cn=config
olcRootPW: $admin_hash
olcAccess: {0}to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $BASE_DN
olcDbDirectory: $DIR/data
olcRootDN: $ADMIN_DN
olcRootPW: $admin_hash
olcDbMaxSize: 8589934592
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: uid,cn,mail eq
olcDbIndex: member,memberUid eq
olcDbIndex: entryUUID,entryCSN eq
olcLimits: {0}dn.exact="$SYNC_DN" size=unlimited size.pr=unlimited size.prtotal=unlimited time=unlimited
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to attrs=member,memberUid by dn.exact="$NOMEMBER_DN" none by users read by * none
olcAccess: {2}to * by users read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
olcMemberOfDangling: ignore
olcMemberOfRefInt: FALSE

dn: olcOverlay={1}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {1}syncprov
olcSpCheckpoint: 100 10
olcSpSessionLog: 1000

EOF
    } > "$DIR/config.ldif"
}

write_base_ldif() {
    local f="$DIR/base.ldif"
    {
        cat <<EOF
dn: $BASE_DN
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example Org
dc: example

dn: ou=services,$BASE_DN
objectClass: organizationalUnit
ou: services

EOF
        local name
        for name in sync limited nomember; do
            cat <<EOF
dn: cn=$name,ou=services,$BASE_DN
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: $name
description: AccessSync test reader ($name)
userPassword: $(hash_pw "$DIR/$name.pw")

EOF
        done
    } > "$f"
}

ldap_ready() {
    local port="$1"
    ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" -b "" -s base namingContexts >/dev/null 2>&1
}

do_start() {
    if pid_alive "$(read_pid "$DIR/slapd.pid")" && [ -f "$DIR/env.sh" ]; then
        note "already running (pid $(read_pid "$DIR/slapd.pid")) in $DIR"
        cat "$DIR/env.sh"
        return 0
    fi
    local t0; t0=$(now_ms)
    # Stale or fresh: start from an empty directory.
    if [ -f "$DIR/$MARKER" ]; then
        stop_pid "$DIR/slapd.pid" 5
        remove_env_dir "$DIR"
    fi
    claim_env_dir "$DIR"
    mkdir -p "$DIR/slapd.d" "$DIR/data"
    chmod 700 "$DIR"
    for name in admin sync limited nomember; do make_password_file "$DIR/$name.pw"; done
    make_test_tls "$DIR/tls"
    write_config_ldif "$(hash_pw "$DIR/admin.pw")"
    "$SLAPADD_BIN" -n0 -F "$DIR/slapd.d" -l "$DIR/config.ldif" >"$DIR/slapadd.log" 2>&1 \
        || { cat "$DIR/slapadd.log" >&2; die "slapadd -n0 (cn=config) failed"; }
    write_base_ldif
    "$SLAPADD_BIN" -q -F "$DIR/slapd.d" -b "$BASE_DN" -l "$DIR/base.ldif" >>"$DIR/slapadd.log" 2>&1 \
        || { cat "$DIR/slapadd.log" >&2; die "slapadd (base entries) failed"; }

    # The organisation.
    local org_ldif=""
    case "$ORG" in
        none) ;;
        small|10k|100k)
            org_ldif="$DIR/org.ldif"
            local t_gen0; t_gen0=$(now_ms)
            "$PYTHON" "$TESTENV_LIB_DIR/gen-org.py" --size "$ORG" --seed "$SEED" --bulk "$BULK" --entry-uuid \
                --base-dn "$BASE_DN" --out "$org_ldif" --manifest "$DIR/org.json"
            note "generated org $ORG in $(( $(now_ms) - t_gen0 )) ms" ;;
        *)
            [ -f "$ORG" ] || die "--org: no such preset or file: $ORG"
            org_ldif="$DIR/org.ldif"; cp "$ORG" "$org_ldif" ;;
    esac
    if [ -z "$LOAD" ]; then
        case "$ORG" in 10k|100k) LOAD=offline ;; *) LOAD=online ;; esac
    fi
    local t_load0 t_load=0
    if [ -n "$org_ldif" ] && [ "$LOAD" = offline ]; then
        t_load0=$(now_ms)
        # slapadd does not take LDIF's optional "version: 1" line.
        sed -e '1{/^version: /d}' "$org_ldif" \
            | "$SLAPADD_BIN" -q -F "$DIR/slapd.d" -b "$BASE_DN" >>"$DIR/slapadd.log" 2>&1 \
            || { tail -5 "$DIR/slapadd.log" >&2; die "slapadd (organisation) failed"; }
        t_load=$(( $(now_ms) - t_load0 ))
    fi

    # Start on free ports; retry if another process grabbed one in between.
    local attempt ldap_port ldaps_port pid uris
    for attempt in 1 2 3 4 5; do
        read -r ldap_port ldaps_port <<<"$(free_port 2)"
        uris="ldap://127.0.0.1:$ldap_port/ ldaps://127.0.0.1:$ldaps_port/"
        # setsid: own session, so a terminal's Ctrl-C does not reach it; -d 0 keeps it in the
        # foreground so $! is slapd itself. Stopped by PID only.
        ACCESSSYNC_TESTENV_PROCESS=1 setsid "$SLAPD_BIN" -d 0 -F "$DIR/slapd.d" -h "$uris" \
            </dev/null >"$DIR/slapd.log" 2>&1 &
        pid=$!
        echo "$pid" > "$DIR/slapd.pid.start"
        if wait_until 10 ldap_ready "$ldap_port" && pid_alive "$pid"; then
            break
        fi
        note "slapd did not come up on $ldap_port/$ldaps_port (attempt $attempt); log:"
        tail -5 "$DIR/slapd.log" >&2 || true
        kill "$pid" 2>/dev/null || true
        pid=""
    done
    [ -n "${pid:-}" ] || die "slapd failed to start"
    # slapd writes slapd.pid itself (olcPidFile); ours is authoritative if it has not yet.
    echo "$pid" > "$DIR/slapd.pid"
    STARTED_PIDFILES+=("$DIR/slapd.pid")
    rm -f "$DIR/slapd.pid.start"
    echo "$ldap_port $ldaps_port" > "$DIR/ports"
    local t_up; t_up=$(( $(now_ms) - t0 ))

    if [ -n "$org_ldif" ] && [ "$LOAD" = online ]; then
        t_load0=$(now_ms)
        # -e relax: the org may carry its own (deterministic) entryUUIDs.
        ldapadd -x -e relax -H "ldap://127.0.0.1:$ldap_port" -D "$ADMIN_DN" -y "$DIR/admin.pw" \
            -f "$org_ldif" >"$DIR/ldapadd.log" 2>&1 \
            || { grep -B2 -A3 -i 'error\|ldap_add' "$DIR/ldapadd.log" | head -20 >&2; die "ldapadd of the organisation failed"; }
        t_load=$(( $(now_ms) - t_load0 ))
    fi
    write_env
    note "started pid $pid on ldap://127.0.0.1:$ldap_port ldaps://127.0.0.1:$ldaps_port in ${t_up} ms (org $ORG, $LOAD load ${t_load} ms) -> $DIR"
    cat "$DIR/env.sh"
}

do_stop() {
    if [ ! -d "$DIR" ]; then return 0; fi
    [ -f "$DIR/$MARKER" ] || die "$DIR was not made by the test environment; not touching it"
    stop_pid "$DIR/slapd.pid.start" 5
    stop_pid "$DIR/slapd.pid" 15
    if [ "$KEEP" = 0 ]; then remove_env_dir "$DIR"; fi
    note "stopped ($DIR)"
}

case "$cmd" in
    start) do_start ;;
    stop) do_stop ;;
    env) [ -f "$DIR/env.sh" ] || die "not started: $DIR/env.sh missing"; cat "$DIR/env.sh" ;;
    status)
        if pid_alive "$(read_pid "$DIR/slapd.pid")"; then echo "running pid $(read_pid "$DIR/slapd.pid") ($DIR)"; else echo "stopped ($DIR)"; exit 1; fi ;;
    *) usage ;;
esac
