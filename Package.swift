// swift-tools-version:6.0
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Tenancy",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Tenancy", targets: ["Tenancy"]),
        .library(name: "TenancySQLite", targets: ["TenancySQLite"]),
        .library(name: "TenancyPostgres", targets: ["TenancyPostgres"]),
        .library(name: "TenancyTesting", targets: ["TenancyTesting"]),
        .executable(name: "tenancy", targets: ["tenancy"]),
        .executable(name: "tenancy-bench", targets: ["tenancy-bench"]),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "Tenancy",
            swiftSettings: strictSettings
        ),
        .target(
            name: "TenancySQLite",
            dependencies: ["Tenancy", "CSQLite"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TenancyPostgres",
            dependencies: ["Tenancy", "CLibPQ", "CCrypto"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TenancyTesting",
            dependencies: ["Tenancy"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "tenancy",
            dependencies: ["Tenancy", "TenancySQLite", "TenancyPostgres"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "tenancy-bench",
            dependencies: ["Tenancy", "TenancySQLite", "TenancyPostgres"],
            swiftSettings: strictSettings
        ),
        // Child process for crash and multi-process tests; not a product.
        .executableTarget(
            name: "tenancy-test-worker",
            dependencies: ["Tenancy", "TenancySQLite", "TenancyPostgres"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TenancyTests",
            dependencies: ["Tenancy", "TenancyTesting"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TenancySQLiteTests",
            dependencies: ["Tenancy", "TenancySQLite", "TenancyTesting", "tenancy-test-worker"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TenancyPostgresTests",
            dependencies: ["Tenancy", "TenancyPostgres", "TenancyTesting", "tenancy-test-worker"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TenancyCLITests",
            dependencies: ["Tenancy", "TenancySQLite", "TenancyPostgres", "TenancyTesting", "tenancy"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
