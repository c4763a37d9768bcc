#!/usr/bin/env bash
# Proves that the servers described by an env.sh answer as the tests expect. Used by up.sh.
#
#   scripts/testenv/smoke.sh [ENV_SH]     # default ${ACCESSSYNC_TESTENV:-$REPO/.testenv}/env.sh
#
# slapd: StartTLS and ldaps with the test CA; the sync reader sees member, entryUUID and the
#   manifest's people; the wrong CA is refused; the nomember reader sees no member values;
#   (with a bulk subtree) the limited reader hits the size limit (rc 4) where sync reads all.
# PostgreSQL: scram login over TCP with the pgpass file; a database can be created and dropped.
# JupyterHub: the service token is admin; a user created through the API logs in with the
#   shared password through the login form; a user that does not exist cannot; once deleted,
#   the user cannot log in any more.
# Samba (if in env.sh): ldaps bind as Administrator with the test CA; nested membership through
#   the in-chain matching rule matches the manifest.
set -euo pipefail
TESTENV_NAME=smoke
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENV_SH="${1:-$TESTENV_ROOT/env.sh}"
[ -f "$ENV_SH" ] || die "no $ENV_SH"
# shellcheck disable=SC1090
. "$ENV_SH"
fails=0
ok() { note "ok   $*"; }
bad() { note "FAIL $*"; fails=$((fails + 1)); }
check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }

# ---------------------------------------------------------------- slapd
LS=(ldapsearch -x -LLL -o ldif-wrap=no)
as_sync=(-D "$ACCESSSYNC_TEST_LDAP_SYNC_DN" -y "$ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE")
export LDAPTLS_CACERT="$ACCESSSYNC_TEST_LDAP_CA"
check "slapd StartTLS bind as sync" "${LS[@]}" -ZZ -H "$ACCESSSYNC_TEST_LDAP_URI" "${as_sync[@]}" -b "$ACCESSSYNC_TEST_LDAP_BASE" -s base dn
check "slapd ldaps bind as sync" "${LS[@]}" -H "$ACCESSSYNC_TEST_LDAPS_URI" "${as_sync[@]}" -b "$ACCESSSYNC_TEST_LDAP_BASE" -s base dn
if LDAPTLS_CACERT="$ACCESSSYNC_TEST_LDAP_WRONG_CA" "${LS[@]}" -H "$ACCESSSYNC_TEST_LDAPS_URI" -b "" -s base >/dev/null 2>&1; then
    bad "slapd: the wrong CA was accepted"
else ok "slapd refuses the wrong CA"; fi
if [ -n "${ACCESSSYNC_TEST_LDAP_MANIFEST:-}" ]; then
    want=$("$PYTHON" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(sum(1 for p in m["people"] if ",ou=people," in p["dn"]))' "$ACCESSSYNC_TEST_LDAP_MANIFEST")
    got=$("${LS[@]}" -H "$ACCESSSYNC_TEST_LDAPS_URI" "${as_sync[@]}" -b "ou=people,$ACCESSSYNC_TEST_LDAP_BASE" '(objectClass=inetOrgPerson)' entryUUID | grep -c '^entryUUID:' || true)
    if [ "$want" = "$got" ]; then ok "slapd: $got people under ou=people with entryUUID, as in the manifest"; else bad "slapd: $got people with entryUUID, manifest says $want"; fi
    m=$("${LS[@]}" -H "$ACCESSSYNC_TEST_LDAPS_URI" "${as_sync[@]}" -b "ou=groups,$ACCESSSYNC_TEST_LDAP_BASE" '(cn=jupyter-users)' member | grep -c '^member' || true)
    [ "$m" -gt 0 ] && ok "slapd: sync reads $m member values of jupyter-users" || bad "slapd: sync reads no member values"
    m=$("${LS[@]}" -H "$ACCESSSYNC_TEST_LDAPS_URI" -D "$ACCESSSYNC_TEST_LDAP_NOMEMBER_DN" -y "$ACCESSSYNC_TEST_LDAP_NOMEMBER_PASSWORD_FILE" \
        -b "ou=groups,$ACCESSSYNC_TEST_LDAP_BASE" '(cn=jupyter-users)' member | grep -c '^member' || true)
    [ "$m" = 0 ] && ok "slapd: nomember reads the group but no member values" || bad "slapd: nomember reads $m member values"
fi
if [ -n "${ACCESSSYNC_TEST_LDAP_BULK_BASE:-}" ]; then
    rc=0; "${LS[@]}" -H "$ACCESSSYNC_TEST_LDAPS_URI" -D "$ACCESSSYNC_TEST_LDAP_LIMITED_DN" -y "$ACCESSSYNC_TEST_LDAP_LIMITED_PASSWORD_FILE" \
        -b "$ACCESSSYNC_TEST_LDAP_BULK_BASE" -E pr=500/noprompt '(objectClass=inetOrgPerson)' dn >/dev/null 2>&1 || rc=$?
    [ "$rc" = 4 ] && ok "slapd: limited reader gets rc=4 (size limit) on a paged search of ou=bulk" || bad "slapd: limited reader rc=$rc, want 4"
    n=$("${LS[@]}" -H "$ACCESSSYNC_TEST_LDAPS_URI" "${as_sync[@]}" -b "$ACCESSSYNC_TEST_LDAP_BULK_BASE" -E pr=500/noprompt '(objectClass=inetOrgPerson)' dn | grep -c '^dn:' || true)
    [ "$n" = "$ACCESSSYNC_TEST_LDAP_BULK_COUNT" ] && ok "slapd: sync pages through all $n bulk people" || bad "slapd: sync read $n of $ACCESSSYNC_TEST_LDAP_BULK_COUNT bulk people"
fi
unset LDAPTLS_CACERT

# ---------------------------------------------------------------- PostgreSQL
if [ -n "${ACCESSSYNC_TEST_PG_PORT:-}" ]; then
    pq=(psql -X -q -w -v ON_ERROR_STOP=1)
    check "postgres: scram login over TCP with the pgpass file" env PGPASSFILE="$ACCESSSYNC_TEST_PG_PASSFILE" \
        "${pq[@]}" "$ACCESSSYNC_TEST_PG_ADMIN_URL" -c 'select 1'
    db="smoke_$$"
    check "postgres: create and drop a database" env PGPASSFILE="$ACCESSSYNC_TEST_PG_PASSFILE" \
        "${pq[@]}" "$ACCESSSYNC_TEST_PG_ADMIN_URL" -c "create database $db" -c "drop database $db"
    if env PGPASSFILE=/nonexistent "${pq[@]}" "$ACCESSSYNC_TEST_PG_ADMIN_URL" -c 'select 1' >/dev/null 2>&1; then
        bad "postgres: a login without password worked"
    else ok "postgres: no password, no login"; fi
fi

# ---------------------------------------------------------------- JupyterHub
if [ -n "${ACCESSSYNC_TEST_HUB_URL:-}" ]; then
    H=(-H "@$ACCESSSYNC_TEST_HUB_AUTH_HEADER_FILE")
    api() { curl -sS --max-time 10 "${H[@]}" -o /dev/null -w '%{http_code}' "$@"; }
    jar="$(mktemp)"; trap 'rm -f "$jar"' EXIT
    login() {   # login USER PASSWORD_FILE -> HTTP status of POST /hub/login
        rm -f "$jar"
        curl -sS --max-time 10 -c "$jar" -b "$jar" -o /dev/null "$ACCESSSYNC_TEST_HUB_LOGIN_URL"
        local xsrf; xsrf="$(awk '$6 == "_xsrf" {print $7}' "$jar")"
        curl -sS --max-time 10 -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' \
            --data-urlencode "username=$1" --data-urlencode "password@$2" --data-urlencode "_xsrf=$xsrf" \
            "$ACCESSSYNC_TEST_HUB_LOGIN_URL"
    }
    admin=$(curl -sS --max-time 10 "${H[@]}" "$ACCESSSYNC_TEST_HUB_URL/user" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get("admin"))')
    [ "$admin" = True ] && ok "hub: the accesssync service is admin" || bad "hub: service admin=$admin"
    u="smoke-$$"
    [ "$(api -X POST "$ACCESSSYNC_TEST_HUB_URL/users" -d "{\"usernames\": [\"$u\"]}")" = 201 ] && ok "hub: user created" || bad "hub: user not created"
    [ "$(login "$u" "$ACCESSSYNC_TEST_HUB_USER_PASSWORD_FILE")" = 302 ] && ok "hub: existing user logs in with the shared password" || bad "hub: existing user cannot log in"
    [ "$(login "nobody-$$" "$ACCESSSYNC_TEST_HUB_USER_PASSWORD_FILE")" = 403 ] && ok "hub: a user that does not exist cannot log in" || bad "hub: a non-existent user logged in"
    [ "$(api -X POST "$ACCESSSYNC_TEST_HUB_URL/users/$u/server")" = 201 ] && ok "hub: server started (in-process spawner)" || bad "hub: server did not start"
    [ "$(api -X DELETE "$ACCESSSYNC_TEST_HUB_URL/users/$u/server")" = 204 ] && ok "hub: server stopped" || bad "hub: server did not stop"
    [ "$(api -X DELETE "$ACCESSSYNC_TEST_HUB_URL/users/$u")" = 204 ] && ok "hub: user deleted" || bad "hub: user not deleted"
    [ "$(login "$u" "$ACCESSSYNC_TEST_HUB_USER_PASSWORD_FILE")" = 403 ] && ok "hub: a deleted user cannot log in" || bad "hub: a deleted user still logs in"
fi

# ---------------------------------------------------------------- Samba
if [ -n "${ACCESSSYNC_TEST_SAMBA_URI:-}" ]; then
    export LDAPTLS_CACERT="$ACCESSSYNC_TEST_SAMBA_CA"
    as_adm=(-H "$ACCESSSYNC_TEST_SAMBA_URI" -D "$ACCESSSYNC_TEST_SAMBA_BIND_DN" -y "$ACCESSSYNC_TEST_SAMBA_PASSWORD_FILE")
    check "samba: ldaps bind as Administrator" "${LS[@]}" "${as_adm[@]}" -b "$ACCESSSYNC_TEST_SAMBA_BASE" -s base dn
    want=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["logical_groups"]["jupyter-users"]["effective_users"]))' "$ACCESSSYNC_TEST_SAMBA_MANIFEST")
    got=$("${LS[@]}" "${as_adm[@]}" -b "$ACCESSSYNC_TEST_SAMBA_PEOPLE_BASE" \
        "(memberOf:1.2.840.113556.1.4.1941:=CN=jupyter-users,$ACCESSSYNC_TEST_SAMBA_GROUPS_BASE)" dn | grep -c '^dn' || true)
    [ "$want" = "$got" ] && ok "samba: $got nested members of jupyter-users, as in the manifest" || bad "samba: $got nested members, manifest says $want"
    unset LDAPTLS_CACERT
fi

if [ "$fails" -ne 0 ]; then die "$fails smoke check(s) failed"; fi
note "all smoke checks passed"
