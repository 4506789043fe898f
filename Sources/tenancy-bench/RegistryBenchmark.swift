import Foundation
import Tenancy
import TenancyPostgres
import TenancySQLite

/// `registry`: lookup by id through the SQLite store with 100,000 tenants, against the same
/// lookup with 1,000 tenants, in the same run. When `postgres` gives the application and
/// owner roles' URLs, it compares the same through `PostgresTenantStore` too.
func benchmarkRegistry(rounds: Int, postgres: (database: String, owner: String)?) async throws -> [Comparison] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }

    let small = try await registryStore(at: directory.appendingPathComponent("small.sqlite").path, tenants: 1_000)
    let large = try await registryStore(at: directory.appendingPathComponent("large.sqlite").path, tenants: 100_000)
    let lookupsPerRound = 5_000
    var generator = SystemRandomNumberGenerator()
    let smallIDs = (0..<lookupsPerRound).map { _ in tenantID(Int.random(in: 0..<1_000, using: &generator)) }
    let largeIDs = (0..<lookupsPerRound).map { _ in tenantID(Int.random(in: 0..<100_000, using: &generator)) }

    let times = try await measureAlternating(
        rounds: rounds, operationsPerRound: lookupsPerRound,
        ours: {
            for id in largeIDs { blackHole(try await large.tenant(id)) }
        },
        baseline: {
            for id in smallIDs { blackHole(try await small.tenant(id)) }
        })

    var comparisons = [
        Comparison(
            name: "registry.lookup-100k", ours: times.ours / 1_000, baseline: times.baseline / 1_000, unit: "us/op",
            baselineName: "the same lookup with 1,000 tenants", direction: .lowerIsBetter)
    ]
    if let postgres {
        comparisons.append(try await benchmarkPostgresRegistry(rounds: rounds, database: postgres.database, owner: postgres.owner))
    }
    return comparisons
}

/// `registry.postgres-lookup-100k`: lookup by id through `PostgresTenantStore` with 100,000
/// tenants in one registry schema, against 1,000 in another, one task, same pool.
private func benchmarkPostgresRegistry(rounds: Int, database url: String, owner ownerURL: String) async throws -> Comparison {
    let owner = try PostgresDatabase(url: ownerURL, maximumConnections: 1)
    let database = try PostgresDatabase(url: url, maximumConnections: 1)
    let suffix = UUID().uuidString.prefix(8).lowercased()
    let smallSchema = try PostgresRegistrySchema(name: "tenancy_bench_registry_1k_\(suffix)")
    let largeSchema = try PostgresRegistrySchema(name: "tenancy_bench_registry_100k_\(suffix)")
    func dropSchemas() async throws {
        for schema in [smallSchema, largeSchema] {
            try await owner.execute("DROP SCHEMA IF EXISTS \(try PostgresIdentifier.quoted(schema.name)) CASCADE")
        }
    }
    do {
        let small = try await postgresRegistryStore(smallSchema, tenants: 1_000, owner: owner, database: database)
        let large = try await postgresRegistryStore(largeSchema, tenants: 100_000, owner: owner, database: database)
        let lookupsPerRound = 2_000
        var generator = SystemRandomNumberGenerator()
        let smallIDs = (0..<lookupsPerRound).map { _ in tenantID(Int.random(in: 0..<1_000, using: &generator)) }
        let largeIDs = (0..<lookupsPerRound).map { _ in tenantID(Int.random(in: 0..<100_000, using: &generator)) }
        let times = try await measureAlternating(
            rounds: rounds, operationsPerRound: lookupsPerRound,
            ours: {
                for id in largeIDs { blackHole(try await large.tenant(id)) }
            },
            baseline: {
                for id in smallIDs { blackHole(try await small.tenant(id)) }
            })
        await database.close()
        try await dropSchemas()
        await owner.close()
        return Comparison(
            name: "registry.postgres-lookup-100k", ours: times.ours / 1_000, baseline: times.baseline / 1_000, unit: "us/op",
            baselineName: "the same PostgreSQL lookup with 1,000 tenants", direction: .lowerIsBetter)
    } catch {
        await database.close()
        try? await dropSchemas()
        await owner.close()
        throw error
    }
}

private func postgresRegistryStore(
    _ schema: PostgresRegistrySchema, tenants count: Int, owner: PostgresDatabase, database: PostgresDatabase
) async throws -> PostgresTenantStore {
    try await schema.install(owner: owner, applicationRole: database.configuration.user)
    let store = try await PostgresTenantStore(database: database, schema: schema)
    try await store.insert(contentsOf: benchTenants(count))
    try await owner.execute("ANALYZE \(try PostgresIdentifier.quoted(schema.name)).tenancy_tenants")
    return store
}

/// Returns tenants 0 to `count - 1` with every tier in turn.
private func benchTenants(_ count: Int) -> [Tenant] {
    let now = Date().truncatedToMilliseconds
    let tiers = TenantTier.allCases
    return (0..<count).map { number in
        Tenant(
            id: tenantID(number), name: "Tenant \(number)", tier: tiers[number % tiers.count],
            adminEmail: "owner@tenant-\(number).example", createdAt: now)
    }
}

private func tenantID(_ number: Int) -> TenantID {
    try! TenantID(validating: "tenant-\(number)")
}

private func registryStore(at path: String, tenants count: Int) async throws -> SQLiteTenantStore {
    let store = try await SQLiteTenantStore(database: try SQLiteDatabase(path: path, synchronous: "NORMAL"))
    let now = Date().truncatedToMilliseconds
    let tiers = TenantTier.allCases
    for start in stride(from: 0, to: count, by: 10_000) {
        let batch = (start..<min(count, start + 10_000)).map { number in
            Tenant(
                id: tenantID(number), name: "Tenant \(number)", tier: tiers[number % tiers.count],
                adminEmail: "owner@tenant-\(number).example", createdAt: now)
        }
        try await store.insert(contentsOf: batch)
    }
    return store
}
