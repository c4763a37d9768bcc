#!/usr/bin/env bash
# THE test command (README and .ci/run call it): everything from a fresh clone, as root.
#
#   scripts/test.sh
#
#   1. scripts/install-deps.sh            Debian packages + Python venv (skips what is there)
#   2. swift build --build-tests
#   3. scripts/testenv/up.sh --with-samba slapd, PostgreSQL, JupyterHub, Samba AD (+ smoke check)
#   4. . $ACCESSSYNC_TESTENV/env.sh; swift test     (all suites; Swift Testing runs in parallel)
#   5. pytest over scripts/kts and Tests/python (those that hold tests)
#   6. scripts/testenv/down.sh            always (trap), unless ACCESSSYNC_KEEP_TESTENV=1
# Prints a closing "N passed, N failed[, N skipped]" line computed from the runners' xUnit
# files, and exits non-zero if anything failed.
#
# Knobs (environment): ACCESSSYNC_TESTENV (default $REPO/.testenv), ACCESSSYNC_VENV (default
# $REPO/.venv), ACCESSSYNC_TEST_NO_SAMBA=1 (skip Samba), ACCESSSYNC_KEEP_TESTENV=1 (leave the
# servers up), ACCESSSYNC_SWIFT_TEST_TIMEOUT (seconds, default 3600), SWIFT_TEST_ARGS (extra
# arguments for swift test, e.g. "--filter LDAPBridgeTests").
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export ACCESSSYNC_TESTENV="${ACCESSSYNC_TESTENV:-$REPO/.testenv}"
export ACCESSSYNC_VENV="${ACCESSSYNC_VENV:-$REPO/.venv}"
RESULTS="$REPO/.build/test-results"
T0=$(date +%s)

say() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - T0 ))"; }
failures=()     # runner-level failures, for the summary

TORN_DOWN=0
teardown() {
    [ "$TORN_DOWN" = 0 ] || return 0
    TORN_DOWN=1
    if [ "${ACCESSSYNC_KEEP_TESTENV:-0}" != 1 ] && [ -d "$ACCESSSYNC_TESTENV" ]; then
        say "stopping the test environment"
        scripts/testenv/down.sh || failures+=("down.sh failed (processes left behind?)")
    fi
}
cleanup() {
    local rc=$?
    teardown
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "installing dependencies"
scripts/install-deps.sh

say "checking that testdata/org matches its generator"
scripts/testenv/gen-testdata.sh --check || failures+=("testdata/org is stale (scripts/testenv/gen-testdata.sh)")

say "building (swift build --build-tests)"
swift --version 2>&1 | head -1
if ! swift build --build-tests; then
    echo "swift build --build-tests failed"
    echo "0 passed, 1 failed"
    exit 1
fi

say "starting the test environment"
up_args=(--with-samba)
if [ "${ACCESSSYNC_TEST_NO_SAMBA:-0}" = 1 ]; then up_args=(); fi
if ! scripts/testenv/up.sh "${up_args[@]}"; then
    echo "the test environment did not start (scripts/testenv/up.sh); no tests were run"
    echo "0 passed, 1 failed"
    exit 1
fi
# shellcheck disable=SC1091
. "$ACCESSSYNC_TESTENV/env.sh"

rm -rf "$RESULTS"
mkdir -p "$RESULTS"

say "swift test"
swift_rc=0
# shellcheck disable=SC2086
timeout -k 60 "${ACCESSSYNC_SWIFT_TEST_TIMEOUT:-3600}" \
    swift test --xunit-output "$RESULTS/swift.xml" ${SWIFT_TEST_ARGS:-} || swift_rc=$?
if [ "$swift_rc" -ne 0 ]; then failures+=("swift test exited $swift_rc"); fi
if [ "$swift_rc" = 124 ] || [ "$swift_rc" = 137 ]; then failures+=("swift test timed out"); fi

py_dirs=()
for d in scripts/kts Tests/python; do
    if [ -d "$d" ] && [ -n "$(find "$d" \( -name 'test_*.py' -o -name '*_test.py' \) -print -quit)" ]; then
        py_dirs+=("$d")
    fi
done
if [ "${#py_dirs[@]}" -gt 0 ]; then
    say "pytest ${py_dirs[*]}"
    py_rc=0
    "$ACCESSSYNC_VENV/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$RESULTS/pytest.xml" \
        "${py_dirs[@]}" || py_rc=$?
    # 5 = no tests collected: a failure here, since these directories hold test files.
    if [ "$py_rc" -ne 0 ]; then failures+=("pytest exited $py_rc"); fi
else
    say "pytest: no Python test directories with tests (scripts/kts, Tests/python)"
fi

# Stop the servers before the summary, so that the summary is the last thing printed.
teardown

say "summary"
summary_rc=0
"$ACCESSSYNC_VENV/bin/python" - "$RESULTS" "${failures[@]}" <<'PY' || summary_rc=$?
import glob, os, sys
import xml.etree.ElementTree as ET

results, runner_failures = sys.argv[1], sys.argv[2:]
passed = failed = skipped = 0
files = sorted(glob.glob(os.path.join(results, "*.xml")))
for path in files:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        print(f"unreadable results file {path}: {e}")
        runner_failures.append(f"unreadable {os.path.basename(path)}")
        continue
    n = 0
    for case in root.iter("testcase"):
        n += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            print(f"FAILED {case.get('classname', '')}.{case.get('name', '')}")
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    print(f"{os.path.basename(path)}: {n} test cases")
for f in runner_failures:
    print(f"runner failure: {f}")
# A runner that failed without reporting a failed test case (crash, timeout, build error)
# still counts as one failure.
if runner_failures and failed == 0:
    failed = 1
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
PY
if [ "$summary_rc" -ne 0 ] || [ "${#failures[@]}" -ne 0 ]; then
    exit 1
fi
