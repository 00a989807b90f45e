// swift-tools-version:6.0
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "gnomon",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "GnomonClient", targets: ["GnomonClient"]),
        .executable(name: "gnomond", targets: ["gnomond"]),
        .executable(name: "gnomon", targets: ["gnomon"]),
        .executable(name: "gnomon-bench", targets: ["gnomon-bench"]),
    ],
    targets: [
        // C libraries from the system's packages, and the project's own C.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        .target(name: "CGnomonShims", dependencies: ["COpenSSL"]),
        .target(name: "CGnomonProto", dependencies: ["CProtobufC"]),

        // Swift modules, from the pure core outwards.
        .target(name: "GnomonCore", swiftSettings: strictSettings),
        .target(
            name: "GnomonProtocol",
            dependencies: ["GnomonCore", "CGnomonProto", "CProtobufC"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "GnomonNetwork",
            dependencies: ["GnomonCore", "GnomonProtocol", "COpenSSL", "CGnomonShims"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "GnomonStore",
            dependencies: ["GnomonCore", "CLibPQ", "CGnomonShims"],
            // The .sql files are embedded as Swift literals by scripts/embed-migrations.
            exclude: ["Migrations"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "GnomonAuth",
            dependencies: ["GnomonCore", "GnomonProtocol", "COpenSSL", "CGnomonShims"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "GnomonServer",
            dependencies: ["GnomonCore", "GnomonProtocol", "GnomonNetwork", "GnomonStore", "GnomonAuth"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "GnomonClient",
            dependencies: ["GnomonCore", "GnomonProtocol", "GnomonNetwork"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "GnomonTestSupport",
            dependencies: ["GnomonCore", "GnomonStore"],
            swiftSettings: strictSettings
        ),

        // Executables.
        .executableTarget(name: "gnomond", dependencies: ["GnomonServer"], swiftSettings: strictSettings),
        .executableTarget(
            name: "gnomon",
            dependencies: ["GnomonClient", "GnomonCore", "GnomonProtocol", "GnomonAuth"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "gnomon-bench",
            dependencies: [
                "GnomonCore", "GnomonProtocol", "GnomonNetwork", "GnomonStore", "GnomonClient", "GnomonAuth", "CLibPQ",
            ],
            swiftSettings: strictSettings
        ),

        // Unit tests: no network, no database.
        .testTarget(
            name: "GnomonCoreTests",
            // GnomonStore for ChildProcess, which runs croniter, the independent cron implementation.
            dependencies: ["GnomonCore", "GnomonStore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "GnomonProtocolTests",
            dependencies: ["GnomonProtocol", "GnomonCore", "COpenSSL"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "GnomonNetworkTests",
            dependencies: ["GnomonNetwork", "GnomonProtocol", "GnomonCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "GnomonStoreTests",
            dependencies: ["GnomonStore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "GnomonAuthTests",
            // GnomonStore for ChildProcess, which runs the independent JWT implementation.
            dependencies: ["GnomonAuth", "GnomonCore", "GnomonProtocol", "GnomonStore"],
            // Keys and tokens made by scripts/mint-test-tokens, read by path from the tests.
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "GnomonServerTests",
            dependencies: [
                "GnomonServer", "GnomonCore", "GnomonAuth", "GnomonNetwork", "GnomonProtocol", "GnomonStore",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "GnomonClientTests",
            dependencies: ["GnomonClient"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "GnomonBenchTests",
            dependencies: ["gnomon-bench"],
            swiftSettings: strictSettings
        ),

        // Tests that start a real PostgreSQL and real processes.
        .testTarget(
            name: "GnomonPostgresTests",
            dependencies: [
                "GnomonStore", "GnomonServer", "GnomonTestSupport", "GnomonCore", "GnomonAuth", "GnomonClient",
                "GnomonNetwork", "GnomonProtocol", "gnomond",
            ],
            swiftSettings: strictSettings
        ),
    ]
)
