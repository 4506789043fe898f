/// A limit of ``TenantLimits`` that ``TenantLimitsEnforcer`` checks.
public enum TenantLimitType: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    case debatesPerDay
    case concurrentDebates
    case agentsPerDebate
    case roundsPerDebate
    case users
    case connectors
    case apiRequestsPerMinute
    case apiRequestsPerDay
    case tokensPerMonth
    case tokensPerDebate
    case storageBytes
    case knowledgeBytes

    public var description: String { rawValue }

    /// Whether the limit is a budget (used plus requested must fit) rather than a count (one
    /// more is admitted while fewer than the limit are used).
    public var isBudget: Bool {
        switch self {
        case .tokensPerMonth, .tokensPerDebate, .storageBytes, .knowledgeBytes: true
        default: false
        }
    }

    /// Returns this limit's value in `limits`.
    public func value(in limits: TenantLimits) -> Int {
        switch self {
        case .debatesPerDay: limits.maxDebatesPerDay
        case .concurrentDebates: limits.maxConcurrentDebates
        case .agentsPerDebate: limits.maxAgentsPerDebate
        case .roundsPerDebate: limits.maxRoundsPerDebate
        case .users: limits.maxUsers
        case .connectors: limits.maxConnectors
        case .apiRequestsPerMinute: limits.apiRequestsPerMinute
        case .apiRequestsPerDay: limits.apiRequestsPerDay
        case .tokensPerMonth: limits.tokensPerMonth
        case .tokensPerDebate: limits.tokensPerDebate
        case .storageBytes: limits.storageQuotaBytes
        case .knowledgeBytes: limits.knowledgeQuotaBytes
        }
    }
}

/// A tenant limit refused an operation.
public struct TenantLimitExceeded: Error, Hashable, Sendable, CustomStringConvertible {
    public let limitType: TenantLimitType
    /// The count or amount already used, as the caller supplied it.
    public let current: Int
    /// The amount asked for: 1 for counts.
    public let requested: Int
    public let limit: Int
    public let tenantID: TenantID

    /// Creates the error; ``TenantLimitsEnforcer`` is the usual source.
    public init(limitType: TenantLimitType, current: Int, requested: Int, limit: Int, tenantID: TenantID) {
        self.limitType = limitType
        self.current = current
        self.requested = requested
        self.limit = limit
        self.tenantID = tenantID
    }

    public var description: String {
        limitType.isBudget
            ? "limit \(limitType) exceeded for tenant '\(tenantID)': \(current) used + \(requested) requested would pass \(limit)"
            : "limit \(limitType) reached for tenant '\(tenantID)': \(current) used of \(limit)"
    }
}

/// Stateless checks of a tenant's limits over counts the caller supplies.
///
/// It stores nothing and shares no counters with ``QuotaManager``: the caller counts (debates
/// today, users, bytes) from its own data. Count limits refuse when the count already used is
/// at or above the limit (9 used of 10: the 10th is admitted); budget limits refuse when used
/// plus requested goes over the limit.
public struct TenantLimitsEnforcer: Sendable {
    /// Creates an enforcer.
    public init() {}

    /// Checks one more unit of a count limit.
    ///
    /// - Throws: ``TenantLimitExceeded`` when `current` is at or above the limit;
    ///   ``ValidationError`` for a budget limit or a negative count.
    public func checkCount(_ type: TenantLimitType, current: Int, for tenant: Tenant) throws {
        guard !type.isBudget else {
            throw ValidationError(
                .invalidArgument, field: "limit type",
                message: "limit \(type) is a budget: use checkBudget(_:current:requested:for:)")
        }
        try Self.validate(current, field: "current")
        let limit = type.value(in: tenant.limits)
        if current >= limit {
            throw TenantLimitExceeded(limitType: type, current: current, requested: 1, limit: limit, tenantID: tenant.id)
        }
    }

    /// Checks `requested` more units of a budget limit.
    ///
    /// - Throws: ``TenantLimitExceeded`` when `current + requested` is above the limit;
    ///   ``ValidationError`` for a count limit, a negative `current` or a `requested` under 1.
    public func checkBudget(_ type: TenantLimitType, current: Int, requested: Int, for tenant: Tenant) throws {
        guard type.isBudget else {
            throw ValidationError(
                .invalidArgument, field: "limit type",
                message: "limit \(type) is a count: use checkCount(_:current:for:)")
        }
        try Self.validate(current, field: "current")
        guard requested >= 1 else {
            throw ValidationError(
                .invalidArgument, field: "requested", message: "invalid requested amount \(requested): expected 1 or more")
        }
        let limit = type.value(in: tenant.limits)
        let (total, overflow) = current.addingReportingOverflow(requested)
        if overflow || total > limit {
            throw TenantLimitExceeded(limitType: type, current: current, requested: requested, limit: limit, tenantID: tenant.id)
        }
    }

    /// Returns the usage of each limit the caller has a count for, in ``TenantLimitType``
    /// order. A limit of 0 reports 100% and `exhausted`.
    public func usageSummary(for tenant: Tenant, counts: [TenantLimitType: Int]) -> [TenantLimitUsage] {
        TenantLimitType.allCases.compactMap { type in
            counts[type].map { used in
                let usage = QuotaUsage(quota: type.rawValue, period: .none, used: used, limit: type.value(in: tenant.limits), resetsAt: nil)
                return TenantLimitUsage(
                    limitType: type, used: used, limit: usage.limit, remaining: usage.remaining,
                    percentage: usage.percentage, status: usage.status)
            }
        }
    }

    private static func validate(_ count: Int, field: String) throws {
        guard count >= 0 else {
            throw ValidationError(.invalidArgument, field: field, message: "invalid \(field) count \(count): expected 0 or more")
        }
    }
}

/// One line of ``TenantLimitsEnforcer/usageSummary(for:counts:)``.
public struct TenantLimitUsage: Hashable, Sendable, Codable {
    public let limitType: TenantLimitType
    public let used: Int
    public let limit: Int
    /// `limit - used`, never below 0.
    public let remaining: Int
    /// `used` as a percentage of `limit`, rounded down; 100 when the limit is 0.
    public let percentage: Int
    /// `warning` at 80% of the limit, `exhausted` with nothing left.
    public let status: QuotaStatus
}
