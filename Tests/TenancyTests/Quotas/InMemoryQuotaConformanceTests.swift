import Tenancy
import TenancyTesting
import Testing

@Suite("In-memory quota and rate-limit stores pass the conformance suites")
struct InMemoryQuotaConformanceTests {
    @Test("In-memory quota store", arguments: QuotaStoreConformance.Check.allCases)
    func quotaStore(check: QuotaStoreConformance.Check) async throws {
        try await QuotaStoreConformance.run(check) { InMemoryQuotaStore() }
    }

    @Test("In-memory rate-limit store", arguments: RateLimitStoreConformance.Check.allCases)
    func rateLimitStore(check: RateLimitStoreConformance.Check) async throws {
        try await RateLimitStoreConformance.run(check) { InMemoryRateLimitStore() }
    }
}
