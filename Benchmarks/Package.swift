// swift-tools-version: 6.1
// Benchmarks for AccessSync, in their own package so the main build stays lean.
//
//   swift package --package-path Benchmarks benchmark            (ordo-one/benchmark: wall time, peak RSS)
//   swift run --package-path Benchmarks -c release plan-bench 100000   (one size per process, plain figures)
import Foundation
import PackageDescription

// The root package is a path dependency, whose identity is its directory's name (the checkout's
// name, which differs between worktrees and CI clones).
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()
let rbacModel: Target.Dependency = .product(name: "RBACModel", package: root)

let package = Package(
    name: "AccessSyncBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Synthetic directories, policies and observed states at benchmark scale.
        .target(
            name: "PlanFixtures",
            dependencies: [rbacModel],
            path: "PlanFixtures"
        ),
        .executableTarget(
            name: "PlanBenchmarks",
            dependencies: ["PlanFixtures", rbacModel, .product(name: "Benchmark", package: "benchmark")],
            path: "PlanBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "plan-bench",
            dependencies: ["PlanFixtures", rbacModel],
            path: "plan-bench"
        ),
    ]
)
