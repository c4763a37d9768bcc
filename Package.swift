// swift-tools-version: 6.1
// AccessSync: declarative user and access management for JupyterHub on Kubernetes.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "AccessSync",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "accesssync", targets: ["AccessSync"]),
        .executable(name: "kube-test-server", targets: ["kube-test-server"]),
        .library(name: "RBACModel", targets: ["RBACModel"]),
        .library(name: "LDAPBridge", targets: ["LDAPBridge"]),
        .library(name: "KubeTestServer", targets: ["KubeTestServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
    ],
    targets: [
        // MARK: C bridges (only the Raw layers of LDAPBridge / PolicyStore import these)
        .systemLibrary(name: "CLDAP", path: "Sources/CLDAP", providers: [.apt(["libldap2-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // MARK: Pure model: values, planner, differ, guard. No I/O.
        .target(
            name: "RBACModel",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // YAML policy files and configuration loading (file/line errors).
        .target(
            name: "PolicyFiles",
            dependencies: ["RBACModel", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(
            name: "LDAPBridge",
            dependencies: ["RBACModel", "CLDAP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "PolicyStore",
            dependencies: [
                "RBACModel", "PolicyFiles", "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
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
            swiftSettings: strict
        ),
        .target(
            name: "HubTarget",
            dependencies: [
                "RBACModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Orchestration and command logic that tests call directly.
        .target(
            name: "AccessSyncCore",
            dependencies: [
                "RBACModel", "PolicyFiles", "LDAPBridge", "PolicyStore", "KubeTarget", "HubTarget",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "AccessSync",
            dependencies: [
                "AccessSyncCore", "RBACModel", "PolicyFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // MARK: Test Kubernetes API server: independent, imports nothing of ours.
        .target(
            name: "KubeTestServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "kube-test-server",
            dependencies: ["KubeTestServer"],
            swiftSettings: strict
        ),

        // MARK: Tests
        // Helpers shared by the test targets (reaping child processes); never linked into the product.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "RBACModelTests", dependencies: ["RBACModel", "PolicyFiles", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "LDAPBridgeTests", dependencies: ["LDAPBridge", "RBACModel"], swiftSettings: strict),
        .testTarget(name: "PolicyStoreTests", dependencies: ["PolicyStore", "PolicyFiles", "RBACModel", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "KubeTestServerTests", dependencies: ["KubeTestServer", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "KubeTargetTests",
            dependencies: ["KubeTarget", "KubeTestServer", "RBACModel", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HubTargetTests",
            dependencies: ["HubTarget", "RBACModel", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AccessSyncTests",
            dependencies: [
                "AccessSync", "AccessSyncCore", "RBACModel", "PolicyFiles", "KubeTestServer", "LDAPBridge", "PolicyStore",
                "KubeTarget", "HubTarget", "TestSupport",
            ],
            swiftSettings: strict
        ),
    ]
)
