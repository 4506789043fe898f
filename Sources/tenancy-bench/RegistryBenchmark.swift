import Foundation
import Tenancy
import TenancySQLite

/// `registry`: lookup by id through the SQLite store with 100,000 tenants, against the same
/// lookup with 1,000 tenants, in the same run.
func benchmarkRegistry(rounds: Int) async throws -> [Comparison] {
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

    return [
        Comparison(
            name: "registry.lookup-100k", ours: times.ours / 1_000, baseline: times.baseline / 1_000, unit: "us/op",
            baselineName: "the same lookup with 1,000 tenants", direction: .lowerIsBetter)
    ]
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
