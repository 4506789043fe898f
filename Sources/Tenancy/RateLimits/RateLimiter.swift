import Foundation

/// Shared rate limits over many tenants: one rule for everyone, and one per tier.
public struct RateLimitAggregates: Hashable, Sendable {
    /// The rule every tenant's requests count against together, per key; nil for none.
    public var global: RateLimitRule?
    /// The rule each tier's tenants count against together, per key.
    public var perTier: [TenantTier: RateLimitRule]
    /// Whether lower tiers are refused first as the global bucket empties: a shed tier may
    /// use only `thresholdPercent` of the global burst.
    public var shedding: QuotaShedding?

    /// Creates aggregate rules; by default there are none.
    public init(global: RateLimitRule? = nil, perTier: [TenantTier: RateLimitRule] = [:], shedding: QuotaShedding? = nil) throws {
        if let shedding, !(1...100).contains(shedding.thresholdPercent) {
            throw RateLimitRule.invalid("invalid shedding threshold \(shedding.thresholdPercent)%: expected 1 to 100")
        }
        self.global = global
        self.perTier = perTier
        self.shedding = shedding
    }
}

/// GCRA rate limits per (tenant, key), with optional aggregates checked in the same step.
///
/// The tenant is the authenticated tenant and the key a route class the application chooses
/// (`api`, `export`), never an identity of the caller, so more keys or principals never enlarge
/// a tenant's share. With a registry attached, a key without its own rule gets the tenant's
/// `apiRequestsPerMinute` with a burst of one minute's worth, and unknown or inactive tenants
/// are refused before any state is allocated. Standalone, a key needs a rule or the default.
public final class RateLimiter: Sendable {
    /// Rules per key; they apply to every tenant.
    public let rules: [String: RateLimitRule]
    /// The rule of keys without their own, for a standalone limiter; nil refuses such keys.
    public let defaultRule: RateLimitRule?
    public let aggregates: RateLimitAggregates
    public let store: any RateLimitStore
    public let tenants: (any TenantStore)?
    public let clock: any TenancyClock

    /// Creates a limiter; every rule was checked when it was created.
    ///
    /// - Throws: ``ValidationError`` for an invalid key name in `rules`.
    public init(
        rules: [String: RateLimitRule] = [:],
        defaultRule: RateLimitRule? = nil,
        aggregates: RateLimitAggregates? = nil,
        store: any RateLimitStore = InMemoryRateLimitStore(),
        tenants: (any TenantStore)? = nil,
        clock: any TenancyClock = SystemClock()
    ) throws {
        for key in rules.keys {
            try Self.validateKey(key, field: "rate limit key")
        }
        self.rules = rules
        self.defaultRule = defaultRule
        self.aggregates = try aggregates ?? RateLimitAggregates()
        self.store = store
        self.tenants = tenants
        self.clock = clock
    }

    /// Decides a request of `cost` units for the tenant on `key`, and charges it when admitted.
    ///
    /// - Throws: ``ValidationError`` for an invalid key or cost, or a key with no rule;
    ///   ``TenantNotFoundError``, ``TenantSuspendedError`` or ``TenantUnavailableError`` with a
    ///   registry attached. A refusal is not an error: it is a decision with `allowed` false.
    public func acquire(tenantID: TenantID, key: String = "api", cost: Int = 1) async throws -> RateLimitDecision {
        try Self.validateKey(key, field: "rate limit key")
        guard (1...QuotaConfig.maximumAmount).contains(cost) else {
            throw ValidationError(
                .invalidArgument, field: "cost",
                message: "invalid cost \(cost) for rate limit key '\(key)': expected 1 to \(QuotaConfig.maximumAmount)")
        }
        let tenant = try await resolveTenant(tenantID)
        let tier = tenant?.tier
        let rule = try self.rule(for: key, tenant: tenant)

        var buckets = [RateLimitBucketRequest(key: RateLimitBucketKey(subject: .tenant(tenantID), key: key), bucket: rule.bucket)]
        if let tier, let tierRule = aggregates.perTier[tier] {
            buckets.append(RateLimitBucketRequest(key: RateLimitBucketKey(subject: .tier(tier), key: key), bucket: tierRule.bucket))
        }
        if let global = aggregates.global {
            var bucket = global.bucket
            if let shedding = aggregates.shedding, let tier, tier < shedding.protectedTier {
                bucket = GCRA.Bucket(emissionInterval: bucket.emissionInterval, burst: Int64(shedding.shedLimit(Int(bucket.burst))))
            }
            buckets.append(RateLimitBucketRequest(key: RateLimitBucketKey(subject: .global, key: key), bucket: bucket))
        }

        let now = Self.nanoseconds(clock.now())
        let results = try await store.acquire(buckets, cost: Int64(cost), now: now)
        return RateLimitDecision(
            policyName: rule.name ?? tier?.rawValue ?? key, rule: rule, results: results)
    }

    /// Removes a tenant's buckets, of one key or of all, for operators; returns how many.
    @discardableResult
    public func reset(tenantID: TenantID, key: String? = nil) async throws -> Int {
        if let key { try Self.validateKey(key, field: "rate limit key") }
        return try await store.reset(.tenant(tenantID), key: key)
    }

    func resolveTenant(_ id: TenantID) async throws -> Tenant? {
        guard let tenants else { return nil }
        guard let tenant = try await tenants.tenant(id) else { throw TenantNotFoundError(tenantID: id) }
        guard tenant.status.admitsScope else {
            if tenant.status == .suspended { throw TenantSuspendedError(tenantID: id, reason: tenant.suspensionReason) }
            throw TenantUnavailableError(tenantID: id, status: tenant.status)
        }
        return tenant
    }

    func rule(for key: String, tenant: Tenant?) throws -> RateLimitRule {
        if let rule = rules[key] { return rule }
        if let tenant { return RateLimitRule.perMinute(tenant.limits.apiRequestsPerMinute) }
        if let defaultRule { return defaultRule }
        throw ValidationError(
            .invalidArgument, field: "rate limit key",
            message: "no rate limit rule for key '\(key)': configure rules[\"\(key)\"] or a default rule")
    }

    /// Converts an instant to nanoseconds since 1970, rounded to whole microseconds: a `Date`
    /// near the present holds about a quarter of a microsecond of precision, so finer digits
    /// are noise.
    static func nanoseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) * 1_000
    }

    /// Checks a key or policy name: 1 to 64 characters of `a-z`, `0-9`, `_` and `-`, starting
    /// with a letter, so it is safe in header fields and store keys.
    static func validateKey(_ key: String, field: String) throws {
        let bytes = Array(key.utf8)
        let allowed = bytes.allSatisfy { TenantID.isAllowed($0) || $0 == UInt8(ascii: "_") }
        guard allowed, (1...64).contains(bytes.count), let first = bytes.first, TenantID.isLetter(first) else {
            throw ValidationError(
                .invalidArgument, field: field,
                message: "invalid \(field) \(TenantID.quotedForMessage(key)): expected 1 to 64 characters of a-z, 0-9, '_' and '-', starting with a letter")
        }
    }
}
