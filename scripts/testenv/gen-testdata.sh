#!/usr/bin/env bash
# (Re)writes testdata/org/small.ldif and small.json: the small sample organisation exactly as
# slapd.sh loads it (gen-org.py --size small --seed 1 --entry-uuid), plus the base entry, for
# tests that read LDIF without a server (LDIF reader, `accesssync render`).
#
#   scripts/testenv/gen-testdata.sh           # rewrite
#   scripts/testenv/gen-testdata.sh --check   # exit 1 if the committed files are stale
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$REPO/testdata/org"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 "$REPO/scripts/testenv/gen-org.py" --size small --seed 1 --entry-uuid --with-base \
    --out "$tmp/small.ldif" --manifest "$tmp/small.json"
if [ "${1:-}" = --check ]; then
    cmp -s "$tmp/small.ldif" "$out/small.ldif" && cmp -s "$tmp/small.json" "$out/small.json" \
        || { echo "testdata/org is stale: run scripts/testenv/gen-testdata.sh" >&2; exit 1; }
    exit 0
fi
mkdir -p "$out"
cp "$tmp/small.ldif" "$tmp/small.json" "$out/"
echo "wrote $out/small.ldif, $out/small.json"
