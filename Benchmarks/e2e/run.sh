#!/usr/bin/env bash
# End-to-end sync benchmark (issue 8): a generated organisation in a real slapd, PostgreSQL,
# JupyterHub and the test Kubernetes API server (5 ms latency per response), all on 127.0.0.1;
# first sync (empty cluster, empty hub) and no-op sync, wall time, time per phase, requests
# served; then ldap2pg 5.9 (PyPI) in dry-run on the same directory and the same PostgreSQL.
#
#   nice -n 10 Benchmarks/e2e/run.sh [SIZE]        SIZE: 10k (default), small or 100k
#
# Binaries: $ACCESSSYNC_BENCH_BIN_DIR (default /tmp/bench-release/release) must hold release
# builds of `accesssync` and `kube-test-server`; when missing they are built there with
#   swift build -c release --product kube-test-server --scratch-path /tmp/bench-release
#   swift build -c release --product accesssync       --scratch-path /tmp/bench-release
# (a scratch path of its own: the repository's .build is untouched).
# ldap2pg: $LDAP2PG (default /tmp/ldap2pg-venv/bin/ldap2pg; installed there with
#   python3 -m venv /tmp/ldap2pg-venv && /tmp/ldap2pg-venv/bin/pip install ldap2pg==5.9
# when missing). JupyterHub comes from the project venv ($ACCESSSYNC_VENV, default .venv).
#
# Everything runs in a fresh directory ($E2E_DIR, default mktemp /tmp/accesssync-e2e-XXXXXX),
# kept afterwards for inspection (logs, JSON outputs, request log); every server started here is
# stopped by PID on exit. Figures: Benchmarks/EndToEnd.md; raw results in $E2E_DIR/results.txt.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SIZE="${1:-10k}"
LATENCY_MS="${LATENCY_MS:-5}"
# kubernetes.requestsPerSecond for the runs (the product default is 100; 0 = no limit).
KUBE_RPS="${KUBE_RPS:-100}"
BIN_DIR="${ACCESSSYNC_BENCH_BIN_DIR:-/tmp/bench-release/release}"
LDAP2PG="${LDAP2PG:-/tmp/ldap2pg-venv/bin/ldap2pg}"
export ACCESSSYNC_VENV="${ACCESSSYNC_VENV:-$REPO/.venv}"
WORK="${E2E_DIR:-$(mktemp -d /tmp/accesssync-e2e-XXXXXX)}"
mkdir -p "$WORK"
RESULTS="$WORK/results.txt"
: > "$RESULTS"
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }

# ---------------------------------------------------------------- binaries
if [ -z "${ACCESSSYNC_BIN:-}" ] && { [ ! -x "$BIN_DIR/accesssync" ] || [ ! -x "$BIN_DIR/kube-test-server" ]; }; then
    scratch="$(dirname "$BIN_DIR")"
    (cd "$REPO" && nice -n 10 swift build -c release --product kube-test-server --scratch-path "$scratch" \
        && nice -n 10 swift build -c release --product accesssync --scratch-path "$scratch")
fi
if [ ! -x "$LDAP2PG" ]; then
    venv="$(dirname "$(dirname "$LDAP2PG")")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q ldap2pg==5.9
fi
AS="${ACCESSSYNC_BIN:-$BIN_DIR/accesssync}"
KTS="${KUBE_TEST_SERVER_BIN:-$BIN_DIR/kube-test-server}"

# ---------------------------------------------------------------- servers
KTS_PID=""
cleanup() {
    set +e
    [ -n "$KTS_PID" ] && kill "$KTS_PID" 2>/dev/null && wait "$KTS_PID" 2>/dev/null
    for s in jupyterhub postgres slapd; do
        [ -d "$WORK/$s" ] && "$REPO/scripts/testenv/$s.sh" stop "$WORK/$s" --keep >/dev/null 2>&1
    done
}
trap cleanup EXIT

t0="$(now)"
"$REPO/scripts/testenv/slapd.sh" start "$WORK/slapd" --org "$SIZE" > "$WORK/slapd.start.log" 2>&1 &
p_ldap=$!
"$REPO/scripts/testenv/postgres.sh" start "$WORK/postgres" > "$WORK/postgres.start.log" 2>&1 &
p_pg=$!
"$REPO/scripts/testenv/jupyterhub.sh" start "$WORK/jupyterhub" > "$WORK/jupyterhub.start.log" 2>&1 &
p_hub=$!
"$KTS" --latency-ms "$LATENCY_MS" --token "bench-$$-$RANDOM$RANDOM" --write-kubeconfig "$WORK/kubeconfig" \
    --request-log "$WORK/kube-requests.jsonl" > "$WORK/kube-test-server.out" 2> "$WORK/kube-test-server.err" &
KTS_PID=$!
for p in $p_ldap $p_pg $p_hub; do
    wait "$p" || { tail -n 20 "$WORK"/*.start.log >&2; exit 1; }
done
for _ in $(seq 100); do [ -s "$WORK/kubeconfig" ] && break; sleep 0.1; done
[ -s "$WORK/kubeconfig" ] || { cat "$WORK/kube-test-server.err" >&2; exit 1; }
# shellcheck disable=SC1091
. "$WORK/slapd/env.sh"; . "$WORK/postgres/env.sh"; . "$WORK/jupyterhub/env.sh"
say "servers up in $(elapsed "$t0" "$(now)") s (org $SIZE generated and loaded): $WORK"
say "machine: $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "kube-test-server latency ${LATENCY_MS} ms; kubernetes.requestsPerSecond ${KUBE_RPS} (0 = no limit)"
say "repository HEAD: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown); accesssync: $AS; kube-test-server: $KTS"
[ -f "$(dirname "$AS")/.commit" ] && say "binaries built from commit $(cat "$(dirname "$AS")/.commit")"

# The organisation's groups must match the default policy's grants.
python3 - "$ACCESSSYNC_TEST_LDAP_MANIFEST" "$REPO/policies/grants.yaml" <<'EOF' | tee -a "$RESULTS"
import json, re, sys
m = json.load(open(sys.argv[1]))
granted = re.findall(r"^\s*group:\s*(\S+)", open(sys.argv[2]).read(), re.M)
lg = m["logical_groups"]
missing = [g for g in granted if g not in lg]
people = [p for p in m["people"] if "ou=people" in p["dn"].lower()]
print(f"directory: {len(m['people'])} people ({sum(p['disabled'] for p in m['people'])} disabled), "
      f"{len({g['cn'] for g in m['groups']})} group names x 3 styles")
for g in granted:
    if g in lg:
        print(f"  grant group {g}: {len(lg[g]['effective_people'])} effective people")
if missing:
    print("policy groups missing from the organisation:", missing); sys.exit(1)
EOF

# ---------------------------------------------------------------- AccessSync
DB=accesssync_e2e
PGPASSFILE="$ACCESSSYNC_TEST_PG_PASSFILE" psql -q -h "$ACCESSSYNC_TEST_PG_HOST" -p "$ACCESSSYNC_TEST_PG_PORT" \
    -U "$ACCESSSYNC_TEST_PG_USER" -d postgres -c "CREATE DATABASE $DB"
cat > "$WORK/accesssync.yaml" <<EOF
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
  database: $DB
  user: "$ACCESSSYNC_TEST_PG_USER"
  passwordFile: "$ACCESSSYNC_TEST_PG_PASSWORD_FILE"
  sslMode: disable
kubernetes:
  mode: kubeconfig
  kubeconfig: "$WORK/kubeconfig"
  requestsPerSecond: $KUBE_RPS
hub:
  url: "$ACCESSSYNC_TEST_HUB_URL"
  tokenFile: "$ACCESSSYNC_TEST_HUB_TOKEN_FILE"
EOF
export ACCESSSYNC_CONFIG="$WORK/accesssync.yaml"
"$AS" migrate > "$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log" >&2; exit 1; }
"$AS" policy apply "$REPO/policies" > "$WORK/policy-apply.log" 2>&1 || { cat "$WORK/policy-apply.log" >&2; exit 1; }

kube_requests() { if [ -f "$WORK/kube-requests.jsonl" ]; then wc -l < "$WORK/kube-requests.jsonl"; else echo 0; fi; }
hub_requests() { grep -cE ' [0-9]{3} (GET|POST|PATCH|PUT|DELETE) /hub/api' "$WORK/jupyterhub/jupyterhub.log" || true; }

# CPU seconds (user + system, including reaped children: PostgreSQL's backends) of each server.
server_cpu() {
    python3 - "$ACCESSSYNC_TEST_SLAPD_PID" "$ACCESSSYNC_TEST_PG_PID" "$ACCESSSYNC_TEST_HUB_PID" "$KTS_PID" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
out = []
for name, pid in zip(("slapd", "postgres", "jupyterhub", "kube-test-server"), sys.argv[1:]):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    out.append(f"{name}={sum(int(x) for x in f[11:15]) / tick:.2f}")
print(" ".join(out))
PY
}
cpu_delta() { # BEFORE AFTER -> "slapd 1.23 s, ..."
    python3 - "$1" "$2" <<'PY'
import sys
a = dict(kv.split("=") for kv in sys.argv[1].split())
b = dict(kv.split("=") for kv in sys.argv[2].split())
print(", ".join(f"{k} {float(b[k]) - float(a[k]):.2f} s" for k in a))
PY
}

run_sync() { # NAME ARGS...
    local name="$1"; shift
    local k0 h0 t1 t2 rc=0
    k0="$(kube_requests)"; h0="$(hub_requests)"; local c0; c0="$(server_cpu)"
    cp "$WORK/kube-requests.jsonl" "$WORK/kube-requests.before-$name.jsonl" 2>/dev/null || : > "$WORK/kube-requests.before-$name.jsonl"
    t1="$(now)"
    /usr/bin/time -f '%e %M %U %S' -o "$WORK/$name.time" "$AS" sync "$@" --output json -q > "$WORK/$name.json" 2> "$WORK/$name.err" || rc=$?
    t2="$(now)"
    local k1 h1 c1; k1="$(kube_requests)"; h1="$(hub_requests)"; c1="$(server_cpu)"
    say "== $name: accesssync sync $* --output json -q"
    say "   exit $rc; wall $(elapsed "$t1" "$t2") s; accesssync CPU $(awk '{printf "%.2f s (user %s, sys %s)", $3 + $4, $3, $4}' "$WORK/$name.time"); peak RSS $(awk '{print $2}' "$WORK/$name.time") KiB"
    say "   server CPU during the run: $(cpu_delta "$c0" "$c1")"
    say "   kube-test-server requests: $((k1 - k0)); hub API requests logged: $((h1 - h0))"
    python3 - "$WORK/$name.json" "$WORK/kube-requests.jsonl" "$k0" <<'EOF' | tee -a "$RESULTS"
import collections, json, sys
r = json.load(open(sys.argv[1]))
ph = r.get("phaseSeconds", {})
print("   phaseSeconds: " + ", ".join(f"{k} {v}" for k, v in sorted(ph.items(), key=lambda kv: -float(kv[1]))))
c = collections.Counter()
for ch in r.get("changes", []):
    c[(ch.get("target"), ch.get("verb"), ch.get("kind", ""))] += 1
print(f"   changes: {len(r.get('changes', []))}; conflicts: {len(r.get('conflicts', []))}; "
      f"status {r.get('status')}; outcomes {collections.Counter(o['status'] for o in r.get('outcomes', []))}")
for (t, v, k), n in sorted(c.items()):
    print(f"     {t} {v} {k}: {n}")
try:
    lines = open(sys.argv[2]).read().splitlines()[int(sys.argv[3]):]
    verbs = collections.Counter()
    for l in lines:
        j = json.loads(l)
        verbs[j.get("method") or j.get("verb") or "?"] += 1
    print("   kube requests by method: " + ", ".join(f"{k} {v}" for k, v in sorted(verbs.items())))
except FileNotFoundError:
    pass
EOF
    [ "$rc" = 0 ] || { tail -n 20 "$WORK/$name.err" | tee -a "$RESULTS" >&2; }
}

run_sync first-sync --adopt hub-groups
run_sync noop-sync

# ---------------------------------------------------------------- ldap2pg 5.9, dry run
# Same directory, same searches (people under ou=people, groupOfNames groups under ou=groups),
# one PostgreSQL role per person and per group, group membership as role membership; the
# PostgreSQL side is the same server (database postgres). Dry run is ldap2pg's default.
# ldap2pg stops at a member naming no role ("Unknown member role ghost"): the organisation's
# dangling member (uid=ghost) and out-of-scope member (ou=partners) get static roles, read from
# the manifest. AccessSync tolerates both (configuration default).
EXTRA_ROLES="$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
uids = set()
for g in m["groups"]:
    if g["style"] == "groupOfNames":
        for dn in g["dangling"] + g["out_of_scope"]:
            rdn = dn.split(",")[0]
            if rdn.lower().startswith("uid="):
                uids.add(rdn[4:])
print(", ".join(sorted(uids)))
' "$ACCESSSYNC_TEST_LDAP_MANIFEST")"
cat > "$WORK/ldap2pg.yml" <<EOF
# Written by Benchmarks/e2e/run.sh.
version: 5
postgres:
  databases_query: [postgres]
  # AccessSync's own roles (created by migrate) are not ldap2pg's business.
  roles_blacklist_query: [postgres, pg_*, accesssync*]
sync_map:
- description: "Members outside ou=people or dangling (static)"
  role:
    names: [$EXTRA_ROLES]
    options: LOGIN
- description: "People: one login role per person"
  ldapsearch:
    base: ou=people,$ACCESSSYNC_TEST_LDAP_BASE
    scope: sub
    filter: "(objectClass=inetOrgPerson)"
  role:
    name: '{uid}'
    options: LOGIN
- description: "Groups: one role per group, members from member DNs"
  ldapsearch:
    base: ou=groups,$ACCESSSYNC_TEST_LDAP_BASE
    scope: sub
    filter: "(objectClass=groupOfNames)"
    # Member DNs whose RDN is not uid (contractors, nested groups) are skipped: ldap2pg does not
    # expand nesting.
    on_unexpected_dn: ignore
  role:
    name: '{cn}'
    options: NOLOGIN
    members: '{member.uid}'
EOF
{
    echo "URI $ACCESSSYNC_TEST_LDAP_URI"
    echo "BASE $ACCESSSYNC_TEST_LDAP_BASE"
    echo "BINDDN $ACCESSSYNC_TEST_LDAP_SYNC_DN"
    echo "TLS_CACERT $ACCESSSYNC_TEST_LDAP_CA"
} > "$WORK/ldaprc"
t1="$(now)"
rc=0
c0="$(server_cpu)"
(
    cd "$WORK"
    # StartTLS as AccessSync does. ldap2pg 5.9 makes a new TLS context on its connection
    # (OPT_X_TLS_NEWCTX), which does not inherit python-ldap's global CA file, so the CA from the
    # environment or ldaprc is not used and verification fails ("Connect error"): the certificate
    # is not verified here (LDAPTLS_REQCERT=never); the TLS handshake and encryption are the same.
    export LDAPCONF="$WORK/ldaprc" LDAPTLS_REQCERT=never LDAPSTARTTLS=true
    LDAPPASSWORD="$(cat "$ACCESSSYNC_TEST_LDAP_SYNC_PASSWORD_FILE")"; export LDAPPASSWORD
    export PGHOST="$ACCESSSYNC_TEST_PG_HOST" PGPORT="$ACCESSSYNC_TEST_PG_PORT" PGUSER="$ACCESSSYNC_TEST_PG_USER" \
        PGPASSFILE="$ACCESSSYNC_TEST_PG_PASSFILE" PGDATABASE=postgres
    /usr/bin/time -f '%e %M %U %S' -o "$WORK/ldap2pg.time" "$LDAP2PG" --config "$WORK/ldap2pg.yml" --dry > "$WORK/ldap2pg.log" 2>&1
) || rc=$?
t2="$(now)"
c1="$(server_cpu)"
say "== ldap2pg $("$LDAP2PG" --version 2>&1 | head -n 1) --dry (dry run), same slapd and PostgreSQL"
say "   exit $rc; wall $(elapsed "$t1" "$t2") s; ldap2pg CPU $(awk '{printf "%.2f s (user %s, sys %s)", $3 + $4, $3, $4}' "$WORK/ldap2pg.time"); peak RSS $(awk '{print $2}' "$WORK/ldap2pg.time") KiB"
say "   server CPU during the run: $(cpu_delta "$c0" "$c1")"
say "   ldap2pg's own log, first LDAP query to comparison complete: $(python3 - "$WORK/ldap2pg.log" <<'PY'
import re, sys, datetime
ts = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+:\s+(.*)", line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
    msg = m.group(2)
    if msg.startswith("Starting ldap2pg"):
        ts.setdefault("start", t)
    if msg.startswith("Querying LDAP"):
        ts.setdefault("ldap", t)
    if msg.startswith("Comparison complete"):
        ts["done"] = t
if "ldap" in ts and "done" in ts:
    print(f"{(ts['done'] - ts['ldap']).total_seconds():.3f} s (from start {(ts['done'] - ts['start']).total_seconds():.3f} s)")
else:
    print("n/a")
PY
)"
say "   $(grep -ciE 'would create|create role|CREATE ROLE' "$WORK/ldap2pg.log" || true) role creations planned; last lines:"
tail -n 3 "$WORK/ldap2pg.log" | sed 's/^/     /' | tee -a "$RESULTS"
[ "$rc" = 0 ] || tail -n 20 "$WORK/ldap2pg.log" >&2

say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
say "results: $RESULTS"
