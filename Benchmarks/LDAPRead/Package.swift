// swift-tools-version: 6.1
// LDAP read benchmark: DirectoryReader vs `ldapsearch -E pr=500/noprompt` on the same server, same run.
// Its own package so the main build stays lean; see Benchmarks/LDAPRead/README.md.
import PackageDescription

let package = Package(
    name: "LDAPReadBenchmark",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "AccessSync", path: "../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "LDAPReadBenchmark",
            dependencies: [
                .product(name: "LDAPBridge", package: "AccessSync"),
                .product(name: "RBACModel", package: "AccessSync"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        )
    ]
)
