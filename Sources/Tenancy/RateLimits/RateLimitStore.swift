/// The GCRA bucket of one subject (a tenant, a tier or everyone) and one key.
public struct RateLimitBucketKey: Hashable, Sendable, Codable {
    public var subject: QuotaSubject
    /// What is limited, such as the route class `api`.
    public var key: String

    /// Creates a bucket key.
    public init(subject: QuotaSubject, key: String) {
        self.subject = subject
        self.key = key
    }
}

/// One bucket of a rate-limit decision and its parameters.
public struct RateLimitBucketRequest: Hashable, Sendable {
    public var key: RateLimitBucketKey
    public var bucket: GCRA.Bucket

    /// Creates a bucket request.
    public init(key: RateLimitBucketKey, bucket: GCRA.Bucket) {
        self.key = key
        self.bucket = bucket
    }
}

/// Storage for GCRA state: one theoretical arrival time per bucket.
///
/// ``acquire(_:cost:now:)`` is one atomic step against every other caller, in this process and
/// in others sharing the store.
public protocol RateLimitStore: Sendable {
    /// Applies ``GCRA/decide(tat:now:bucket:cost:)`` to every bucket at `now` (nanoseconds since
    /// 1970); when every bucket allows, stores each new TAT, otherwise stores nothing. Returns
    /// the result of each bucket, in order.
    func acquire(_ buckets: [RateLimitBucketRequest], cost: Int64, now: Int64) async throws -> [GCRA.Result]

    /// Removes the buckets of `subject`, of one key or of all when `key` is nil, and returns
    /// how many it removed.
    func reset(_ subject: QuotaSubject, key: String?) async throws -> Int

    /// Removes every bucket of a tenant and returns how many it removed.
    func purge(_ tenantID: TenantID) async throws -> Int
}

extension RateLimitStore {
    public func purge(_ tenantID: TenantID) async throws -> Int {
        try await reset(.tenant(tenantID), key: nil)
    }
}
