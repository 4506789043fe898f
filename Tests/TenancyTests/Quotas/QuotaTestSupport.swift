import Foundation
import Tenancy
import TenancyTesting

/// Parses an ISO 8601 instant such as `2026-03-29T01:00:00Z`; traps on a typo in a test.
func instant(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    guard let date = formatter.date(from: text) else { preconditionFailure("bad test instant \(text)") }
    return date
}

/// Milliseconds since 1970 of an ISO 8601 instant.
func milliseconds(_ text: String) -> Int64 {
    instant(text).millisecondsSince1970
}

/// Returns a standalone manager over an in-memory store with a fixed clock.
func standaloneQuotas(_ config: QuotaConfig, at start: String = "2026-01-01T00:00:00Z") throws -> (QuotaManager, FixedClock, InMemoryQuotaStore) {
    let clock = FixedClock(instant(start))
    let store = InMemoryQuotaStore()
    return (try QuotaManager(config, store: store, clock: clock), clock, store)
}

/// Returns the error `body` throws, or nil.
func thrownError(_ body: () async throws -> Void) async -> (any Error)? {
    do {
        try await body()
        return nil
    } catch {
        return error
    }
}
