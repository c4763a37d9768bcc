#!/usr/bin/env bash
# Hub sync benchmark: 2,000 users and 50 groups into an empty JupyterHub, then a no-op pass.
# Starts its own hub with scripts/testenv/jupyterhub.sh (needs the venv from
# scripts/install-deps.sh, or ACCESSSYNC_VENV), prints requests and times, and writes them to
# Benchmarks/results/hub-sync-<date>.txt. Figures and their reading: Benchmarks/HubSync.md.
#   Benchmarks/hub-sync.sh [USERS [GROUPS]]
set -euo pipefail
cd "$(dirname "$0")/.."
users="${1:-2000}"
groups="${2:-50}"
mkdir -p Benchmarks/results
out="Benchmarks/results/hub-sync-$(date -u +%Y%m%dT%H%M%SZ).txt"
swift build --build-tests >/dev/null
ACCESSSYNC_HUB_BENCHMARK=1 ACCESSSYNC_HUB_BENCHMARK_USERS="$users" ACCESSSYNC_HUB_BENCHMARK_GROUPS="$groups" \
    ACCESSSYNC_HUB_BENCHMARK_OUT="$PWD/$out" \
    swift test --skip-build --filter 'HubSyncBenchmark' </dev/null 2>&1 | grep -E 'BENCHMARK|passed|failed|error' || true
[ -s "$out" ] || { echo "hub-sync: the benchmark wrote no figures" >&2; exit 1; }
cat "$out"
