import Tenancy
import Testing

@Suite("QuotaExceeded")
struct QuotaExceededTests {
    @Test("a gauge refusal names no period")
    func gaugeWording() {
        let error = QuotaExceeded(
            quotaName: "storage_bytes", limit: 1_073_741_824, used: 1_073_741_800, requested: 100, period: .none,
            tenantID: "acme-corp", subject: .tenant("acme-corp"), retryAfter: nil, resetsAt: nil)

        #expect(error.description == "quota 'storage_bytes' exceeded for tenant 'acme-corp': 1073741800 used + 100 requested would pass the limit of 1073741824")
        #expect(error.retryAfterSeconds == nil)
    }

    @Test("retry-after rounds up to whole seconds")
    func retryAfterRounding() {
        let error = QuotaExceeded(
            quotaName: "debates", limit: 10, used: 10, requested: 1, period: .day,
            tenantID: "acme-corp", subject: .tenant("acme-corp"), retryAfter: .milliseconds(9_837_001), resetsAt: nil)

        #expect(error.retryAfterSeconds == 9_838)
        #expect(error.description.hasSuffix("would pass the day limit of 10; retry after 9838 s"))
    }
}
