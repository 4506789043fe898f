import Synchronization

/// GCRA state in memory, for tests and single-process services.
///
/// Each decision runs under one `Mutex` with no suspension point inside.
public final class InMemoryRateLimitStore: RateLimitStore {
    private let tats = Mutex<[RateLimitBucketKey: Int64]>([:])

    /// Creates an empty store.
    public init() {}

    public func acquire(_ buckets: [RateLimitBucketRequest], cost: Int64, now: Int64) async throws -> [GCRA.Result] {
        tats.withLock { tats in
            let results = buckets.map { request in
                GCRA.decide(tat: tats[request.key], now: now, bucket: request.bucket, cost: cost)
            }
            if results.allSatisfy(\.allowed) {
                for (request, result) in zip(buckets, results) {
                    tats[request.key] = result.tat
                }
            }
            return results
        }
    }

    public func reset(_ subject: QuotaSubject, key: String?) async throws -> Int {
        tats.withLock { tats in
            let matching = tats.keys.filter { $0.subject == subject && (key == nil || $0.key == key) }
            matching.forEach { tats.removeValue(forKey: $0) }
            return matching.count
        }
    }
}

/// Removes a tenant's rate-limit buckets when the tenant is deleted with purge.
public struct RateLimitPurger: TenantPurger {
    /// The store to purge.
    public let store: any RateLimitStore

    /// Creates a purger over `store`.
    public init(store: any RateLimitStore) {
        self.store = store
    }

    public var name: String { "rate-limits" }

    public func purge(_ tenantID: TenantID) async throws -> Int {
        try await store.purge(tenantID)
    }
}
