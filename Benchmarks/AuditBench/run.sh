#!/usr/bin/env bash
# Builds the audit benchmark in release as a small package of its own (PolicyStore and RBACModel
# sources linked from the repository; the main build is untouched) and runs it.
#   Benchmarks/AuditBench/run.sh            # needs ACCESSSYNC_TEST_PG_* (source .testenv/env.sh)
# ACCESSSYNC_AUDIT_BENCH_ROWS (default 100000), ACCESSSYNC_AUDIT_BENCH_REPEATS (default 3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${ACCESSSYNC_AUDIT_BENCH_DIR:-${TMPDIR:-/tmp}/accesssync-audit-bench}"
mkdir -p "$work/Sources/AuditBench"
for target in RBACModel PolicyStore CLibPQ; do
    ln -sfn "$repo/Sources/$target" "$work/Sources/$target"
done
ln -sf "$here/main.swift" "$work/Sources/AuditBench/main.swift"
cat > "$work/Package.swift" <<'PKG'
// swift-tools-version: 6.1
import PackageDescription
let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("InternalImportsByDefault")]
let package = Package(
    name: "AccessSyncAuditBench",
    platforms: [.macOS(.v14)],
    dependencies: [.package(url: "https://github.com/apple/swift-crypto", from: "4.0.0")],
    targets: [
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq"),
        .target(name: "RBACModel", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .target(name: "PolicyStore", dependencies: ["RBACModel", "CLibPQ", .product(name: "Crypto", package: "swift-crypto")],
                exclude: [], swiftSettings: strict),
        .executableTarget(name: "AuditBench", dependencies: ["PolicyStore"], swiftSettings: strict),
    ]
)
PKG
cd "$work"
swift build -c release --product AuditBench
exec "$work/.build/release/AuditBench"
