import Foundation
import Tenancy
import TenancySQLite
import TenancyTesting
import Testing

/// The SQLite stores pass the same conformance suites as the in-memory ones, each check on a
/// fresh database file.
@Suite("SQLite stores pass the conformance suites")
struct SQLiteStoreConformanceTests {
    static func freshDatabase() throws -> SQLiteDatabase {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-conformance-\(UUID().uuidString).sqlite").path
        return try SQLiteDatabase(path: path)
    }

    @Test("SQLite tenant store", arguments: TenantStoreConformance.Check.allCases)
    func tenantStore(check: TenantStoreConformance.Check) async throws {
        try await TenantStoreConformance.run(check) { try await SQLiteTenantStore(database: try Self.freshDatabase()) }
    }

    @Test("SQLite audit store", arguments: AuditStoreConformance.Check.allCases)
    func auditStore(check: AuditStoreConformance.Check) async throws {
        try await AuditStoreConformance.run(check) { try await SQLiteAuditStore(database: try Self.freshDatabase()) }
    }

    @Test("SQLite purge job store", arguments: PurgeJobStoreConformance.Check.allCases)
    func purgeJobStore(check: PurgeJobStoreConformance.Check) async throws {
        try await PurgeJobStoreConformance.run(check) { try await SQLitePurgeJobStore(database: try Self.freshDatabase()) }
    }
}
