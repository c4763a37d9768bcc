// swift-tools-version: 6.1
// Release-mode benchmarks of the Kubernetes target against the in-process test API server.
//
// The module sources are symlinks to the main package's Sources/, so this package builds only what the
// benchmark needs (RBACModel, KubeTarget, KubeTestServer and their dependencies) and does not depend on the
// main package by path (whose package identity would be the checkout's directory name).
//
//     cd Benchmarks/KubeBenchmarks && swift run -c release kube-benchmarks
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "KubeBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
    ],
    targets: [
        .target(
            name: "RBACModel", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .target(
            name: "KubeTarget",
            dependencies: [
                "RBACModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict),
        .target(
            name: "KubeTestServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "kube-benchmarks", dependencies: ["KubeTarget", "KubeTestServer", "RBACModel"], swiftSettings: strict),
    ]
)
