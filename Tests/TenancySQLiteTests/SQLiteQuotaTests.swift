import Foundation
import Tenancy
import TenancySQLite
import TenancyTesting
import Testing

@Suite("SQLite quotas and rate limits")
struct SQLiteQuotaTests {
    static func freshDatabase() throws -> SQLiteDatabase {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-quotas-\(UUID().uuidString).sqlite").path
        return try SQLiteDatabase(path: path)
    }

    @Test("SQLite quota store", arguments: QuotaStoreConformance.Check.allCases)
    func quotaStore(check: QuotaStoreConformance.Check) async throws {
        try await QuotaStoreConformance.run(check) { try await SQLiteQuotaStore(database: try Self.freshDatabase()) }
    }

    @Test("SQLite rate-limit store", arguments: RateLimitStoreConformance.Check.allCases)
    func rateLimitStore(check: RateLimitStoreConformance.Check) async throws {
        try await RateLimitStoreConformance.run(check) { try await SQLiteRateLimitStore(database: try Self.freshDatabase()) }
    }

    @Test("4 processes x 64 tasks admit exactly 1,000")
    func multiProcessExact() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("quotas.sqlite")
        let worker = try builtExecutable("tenancy-test-worker")
        let database = try SQLiteDatabase(path: path)
        let store = try await SQLiteQuotaStore(database: database)

        let arguments = ["quota-charge", "--database", path, "--tenant", "acme-corp", "--limit", "1000", "--tasks", "64", "--charges", "5"]
        let results = try await withThrowingTaskGroup(of: ProcessResult.self) { group in
            for _ in 0..<4 {
                group.addTask { try await Task.detached { try await runChildProcess(worker, arguments) }.value }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }

        for result in results {
            #expect(result.status == 0, "worker failed: \(result.standardError)")
        }
        let admitted = results.compactMap { Int($0.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst("admitted=".count)) }
        #expect(admitted.count == 4)
        #expect(admitted.reduce(0, +) == 1_000)
        let quotas = try QuotaManager(QuotaConfig(limits: [QuotaLimit(name: "jobs", limit: 1_000, period: .day)]), store: store)
        #expect(try await quotas.usage(tenantID: "acme-corp").first?.used == 1_000)
    }

    @Test("lease of a killed holder frees its slot after the time-to-live")
    func killedLeaseHolder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("leases.sqlite")
        let worker = try builtExecutable("tenancy-test-worker")
        let store = try await SQLiteQuotaStore(database: try SQLiteDatabase(path: path))

        let crashed = try await runChildProcess(
            worker, ["lease-hold", "--database", path, "--tenant", "acme-corp", "--ttl-ms", "60000"],
            environment: ["TENANCY_FAULT": "quota.lease.acquired:1"])
        #expect(crashed.killedBySignal)
        #expect(crashed.standardOutput == "")

        let clock = FixedClock(Date())
        let quotas = try QuotaManager(
            QuotaConfig(leaseLimits: [QuotaLeaseLimit(name: "concurrent_debates", limit: 1)]), store: store, clock: clock)
        let held = await #expect(throws: QuotaExceeded.self) { _ = try await quotas.acquire(tenantID: "acme-corp") }
        #expect(held?.used == 1)

        clock.advance(by: .seconds(61))
        let lease = try await quotas.acquire(tenantID: "acme-corp")
        #expect(try await lease.release())
        #expect(try await lease.release() == false)
    }

    @Test("registry attached on SQLite refuses unknown tenants with no row")
    func registryOnSQLite() async throws {
        let database = try Self.freshDatabase()
        let manager = try await TenantManager.sqlite(database)
        try await manager.createTenant(name: "Acme", tier: .free, adminEmail: "ops@acme.example", id: "acme-corp")
        let store = try await SQLiteQuotaStore(database: database)
        let quotas = try QuotaManager(store: store, tenants: manager)
        manager.register(QuotaPurger(store: store))

        await #expect(throws: TenantNotFoundError.self) { try await quotas.checkAndIncrement("debates", tenantID: "ghost-co") }
        try await quotas.checkAndIncrement("debates", tenantID: "acme-corp", by: 10)
        await #expect(throws: QuotaExceeded.self) { try await quotas.checkAndIncrement("debates", tenantID: "acme-corp") }
        let counts = try await database.read { connection in
            try connection.query("SELECT subject FROM tenancy_quota_counters ORDER BY subject").map { try $0.text("subject") }
        }
        #expect(counts == ["tenant:acme-corp"])

        let receipt = try #require(try await manager.deleteTenant("acme-corp", purgeData: true))
        #expect(receipt.steps.map(\.purger) == ["quotas", "registry"])
        #expect(receipt.steps.first?.removed == 1)
    }
}
