import Foundation
import Tenancy
import TenancyPostgres
import TenancyTesting
import Testing

/// The PostgreSQL stores pass the same conformance suites as the in-memory and SQLite ones,
/// each check in a schema of its own that is dropped afterwards.
@Suite("PostgreSQL stores pass the conformance suites", .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipMessage))
struct PostgresStoreConformanceTests {
    @Test("PostgreSQL tenant store", arguments: TenantStoreConformance.Check.allCases)
    func tenantStore(check: TenantStoreConformance.Check) async throws {
        let database = try await PostgresTestServer.application()
        try await PostgresTestServer.withRegistrySchema { schema in
            try await TenantStoreConformance.run(check) { try await PostgresTenantStore(database: database, schema: schema) }
        }
    }

    @Test("PostgreSQL audit store", arguments: AuditStoreConformance.Check.allCases)
    func auditStore(check: AuditStoreConformance.Check) async throws {
        let database = try await PostgresTestServer.application()
        try await PostgresTestServer.withRegistrySchema { schema in
            try await AuditStoreConformance.run(check) { try await PostgresAuditStore(database: database, schema: schema) }
        }
    }

    @Test("PostgreSQL purge job store", arguments: PurgeJobStoreConformance.Check.allCases)
    func purgeJobStore(check: PurgeJobStoreConformance.Check) async throws {
        let database = try await PostgresTestServer.application()
        try await PostgresTestServer.withRegistrySchema { schema in
            try await PurgeJobStoreConformance.run(check) { try await PostgresPurgeJobStore(database: database, schema: schema) }
        }
    }
}
