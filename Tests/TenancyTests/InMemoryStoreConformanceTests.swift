import Testing
import Tenancy
import TenancyTesting

@Suite("In-memory stores pass the conformance suites")
struct InMemoryStoreConformanceTests {
    @Test("In-memory tenant store", arguments: TenantStoreConformance.Check.allCases)
    func tenantStore(check: TenantStoreConformance.Check) async throws {
        try await TenantStoreConformance.run(check) { InMemoryTenantStore() }
    }

    @Test("In-memory audit store", arguments: AuditStoreConformance.Check.allCases)
    func auditStore(check: AuditStoreConformance.Check) async throws {
        try await AuditStoreConformance.run(check) { InMemoryAuditStore() }
    }

    @Test("In-memory purge job store", arguments: PurgeJobStoreConformance.Check.allCases)
    func purgeJobStore(check: PurgeJobStoreConformance.Check) async throws {
        try await PurgeJobStoreConformance.run(check) { InMemoryPurgeJobStore() }
    }

    @Test("Whole suites run in one call")
    func wholeSuites() async throws {
        try await TenantStoreConformance.run { InMemoryTenantStore() }
        try await AuditStoreConformance.run { InMemoryAuditStore() }
        try await PurgeJobStoreConformance.run { InMemoryPurgeJobStore() }
    }
}
