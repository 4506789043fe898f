/// One limit of a quota: at most `limit` units per `period`.
public struct QuotaLimit: Hashable, Sendable, Codable {
    /// The quota name, such as `debates` or `api_requests`.
    public var name: String
    /// The maximum units per window; 0 admits nothing.
    public var limit: Int
    /// The window the limit applies to, or ``QuotaPeriod/none`` for a gauge.
    public var period: QuotaPeriod

    /// Creates a limit of `limit` units per `period` on the quota `name`.
    public init(name: String, limit: Int, period: QuotaPeriod) {
        self.name = name
        self.limit = limit
        self.period = period
    }
}

/// A concurrency quota: at most `limit` leases held at once.
public struct QuotaLeaseLimit: Hashable, Sendable, Codable {
    /// The quota name, such as `concurrent_debates`.
    public var name: String
    /// The maximum number of leases held at once; 0 admits nothing.
    public var limit: Int

    /// Creates a lease limit.
    public init(name: String, limit: Int) {
        self.name = name
        self.limit = limit
    }
}

/// A budget shared by many tenants: every tenant (``QuotaSubject/global``) or every tenant of
/// one tier (``QuotaSubject/tier(_:)``).
///
/// Aggregate windows are in UTC, because the tenants that share them live in many time zones.
public struct QuotaAggregateLimit: Hashable, Sendable, Codable {
    /// `global` or one tier; never a tenant.
    public var subject: QuotaSubject
    /// The quota name and the shared limit per window.
    public var limit: QuotaLimit

    /// Creates an aggregate limit.
    public init(_ subject: QuotaSubject, _ limit: QuotaLimit) {
        self.subject = subject
        self.limit = limit
    }
}

/// Refusing lower tiers first once a global budget is nearly spent.
///
/// When a global aggregate's usage would pass `thresholdPercent` of its limit, charges from
/// tenants of a tier below `protectedTier` are refused, so the rest of the budget stays for
/// the protected tiers. A tenant's tier is known only with a registry attached, so a
/// standalone manager never sheds.
public struct QuotaShedding: Hashable, Sendable, Codable {
    /// The share of a global limit, 1 to 100 percent, that lower tiers may fill.
    public var thresholdPercent: Int
    /// Tenants of this tier and above are never shed.
    public var protectedTier: TenantTier

    /// Creates a shedding rule; 80% by default.
    public init(thresholdPercent: Int = 80, protectedTier: TenantTier) {
        self.thresholdPercent = thresholdPercent
        self.protectedTier = protectedTier
    }

    /// Returns the part of `limit` that a shed tier may fill, rounded down.
    func shedLimit(_ limit: Int) -> Int {
        100.dividingFullWidth(limit.multipliedFullWidth(by: thresholdPercent)).quotient
    }
}

/// The limits a ``QuotaManager`` enforces.
///
/// Standalone, these are the limits of every tenant. With a registry attached they cap the
/// tenant's own limits (the override, else the tier default): the smaller value wins, and a
/// quota that only this configuration names applies as given.
public struct QuotaConfig: Hashable, Sendable {
    /// Windowed and gauge limits; one name may have several periods.
    public var limits: [QuotaLimit]
    /// Concurrency limits, enforced with leases.
    public var leaseLimits: [QuotaLeaseLimit]
    /// Budgets shared by all tenants or by one tier, charged in the same step as the tenant's.
    public var aggregates: [QuotaAggregateLimit]
    /// Whether lower tiers are refused first near a global budget; nil never sheds.
    public var shedding: QuotaShedding?
    /// How long a lease lives unless released, when ``QuotaManager/acquire(_:tenantID:timeToLive:)``
    /// names no time-to-live.
    public var leaseTimeToLive: Duration

    /// The largest amount, limit or count the manager accepts: 2^62 - 1, so a used count plus
    /// an amount never overflows 64 bits in any store.
    public static let maximumAmount = (1 << 62) - 1

    /// Creates a configuration from named limits.
    public init(
        limits: [QuotaLimit] = [],
        leaseLimits: [QuotaLeaseLimit] = [],
        aggregates: [QuotaAggregateLimit] = [],
        shedding: QuotaShedding? = nil,
        leaseTimeToLive: Duration = .seconds(600)
    ) {
        self.limits = limits
        self.leaseLimits = leaseLimits
        self.aggregates = aggregates
        self.shedding = shedding
        self.leaseTimeToLive = leaseTimeToLive
    }

    /// Creates the common configuration: `debates` per day, `api_requests` per hour and
    /// `storage_bytes` as a gauge. A nil value sets no limit.
    public init(maxDebatesPerDay: Int? = nil, maxAPICallsPerHour: Int? = nil, maxStorageBytes: Int? = nil) {
        var limits: [QuotaLimit] = []
        if let maxDebatesPerDay {
            limits.append(QuotaLimit(name: QuotaCatalog.debates, limit: maxDebatesPerDay, period: .day))
        }
        if let maxAPICallsPerHour {
            limits.append(QuotaLimit(name: QuotaCatalog.apiRequests, limit: maxAPICallsPerHour, period: .hour))
        }
        if let maxStorageBytes {
            limits.append(QuotaLimit(name: QuotaCatalog.storageBytes, limit: maxStorageBytes, period: .none))
        }
        self.init(limits: limits)
    }

    /// Checks every name, limit and rule, naming the first invalid value.
    ///
    /// - Throws: ``ValidationError`` with code ``ValidationError/Code/invalidConfig``.
    public func validate() throws {
        var seen: Set<String> = []
        for limit in limits {
            try QuotaCatalog.validateName(limit.name)
            try Self.validateLimit(limit.limit, name: limit.name)
            if QuotaCatalog.leaseQuotas.contains(limit.name) {
                throw Self.invalid("quota '\(limit.name)' is a lease quota: configure it in leaseLimits")
            }
            if !seen.insert("\(limit.name)/\(limit.period)").inserted {
                throw Self.invalid("quota '\(limit.name)' has two limits for the period \(limit.period): keep one")
            }
        }
        for lease in leaseLimits {
            try QuotaCatalog.validateName(lease.name)
            try Self.validateLimit(lease.limit, name: lease.name)
            if limits.contains(where: { $0.name == lease.name }) || !QuotaCatalog.tierLimits(lease.name).isEmpty {
                throw Self.invalid("quota '\(lease.name)' is a windowed quota and cannot also be a lease quota")
            }
            if !seen.insert("\(lease.name)/lease").inserted {
                throw Self.invalid("lease quota '\(lease.name)' is configured twice: keep one")
            }
        }
        for aggregate in aggregates {
            if case .tenant = aggregate.subject {
                throw Self.invalid("aggregate limit of quota '\(aggregate.limit.name)' names a tenant: use global or a tier")
            }
            try QuotaCatalog.validateName(aggregate.limit.name)
            try Self.validateLimit(aggregate.limit.limit, name: aggregate.limit.name)
            if QuotaCatalog.leaseQuotas.contains(aggregate.limit.name) || leaseLimits.contains(where: { $0.name == aggregate.limit.name }) {
                throw Self.invalid("aggregate limit of quota '\(aggregate.limit.name)': lease quotas have no aggregates")
            }
            if !seen.insert("\(aggregate.subject)/\(aggregate.limit.name)/\(aggregate.limit.period)").inserted {
                throw Self.invalid("aggregate limit of quota '\(aggregate.limit.name)' for \(aggregate.subject) and period \(aggregate.limit.period) is configured twice")
            }
        }
        if let shedding, !(1...100).contains(shedding.thresholdPercent) {
            throw Self.invalid("invalid shedding threshold \(shedding.thresholdPercent)%: expected 1 to 100")
        }
        if leaseTimeToLive <= .zero || leaseTimeToLive > .seconds(366 * 86_400) {
            throw Self.invalid("invalid lease time-to-live \(leaseTimeToLive): expected more than zero and at most 366 days")
        }
    }

    static func validateLimit(_ limit: Int, name: String) throws {
        guard (0...maximumAmount).contains(limit) else {
            throw invalid("invalid limit \(limit) for quota '\(name)': expected 0 to \(maximumAmount)")
        }
    }

    static func invalid(_ message: String) -> ValidationError {
        ValidationError(.invalidConfig, field: "quota config", message: message)
    }
}
