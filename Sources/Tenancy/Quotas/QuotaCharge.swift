public import Foundation

/// A successful charge: what ``QuotaManager/refund(_:)`` needs to undo it exactly.
///
/// A charge is `Codable`, so a job can refund it later in another process. Decoding one trusts
/// its content: refund only charges this library returned.
public struct QuotaCharge: Hashable, Sendable, Codable, Identifiable {
    /// The charge id; a refund is applied at most once per id.
    public let id: UUID
    public let tenantID: TenantID
    /// The instant the manager's clock read for the charge.
    public let chargedAt: Date
    private let charged: ChargedLines

    /// The lines of a charge. Most charges have one line, which is kept inline so that a
    /// charge allocates no arrays.
    private enum ChargedLines: Sendable {
        case one(QuotaChargeLine, usedAfter: Int)
        case many([QuotaChargeLine], usedAfter: [Int])
    }

    package init(id: UUID, tenantID: TenantID, lines: [QuotaChargeLine], chargedAt: Date, usedAfter: [Int]) {
        self.id = id
        self.tenantID = tenantID
        self.chargedAt = chargedAt
        if lines.count == 1, usedAfter.count == 1 {
            charged = .one(lines[0], usedAfter: usedAfter[0])
        } else {
            charged = .many(lines, usedAfter: usedAfter)
        }
    }

    package init(id: UUID, tenantID: TenantID, line: QuotaChargeLine, chargedAt: Date, usedAfter: Int) {
        self.id = id
        self.tenantID = tenantID
        self.chargedAt = chargedAt
        charged = .one(line, usedAfter: usedAfter)
    }

    /// Every counter charged: each quota period of the tenant and each aggregate.
    public var lines: [QuotaChargeLine] {
        switch charged {
        case .one(let line, _): [line]
        case .many(let lines, _): lines
        }
    }

    /// The value of each line's counter right after the charge, in line order.
    public var usedAfter: [Int] {
        switch charged {
        case .one(_, let used): [used]
        case .many(_, let used): used
        }
    }

    /// The quota names charged, in the order the caller named them.
    public var quotas: [String] {
        var names: [String] = []
        for line in lines where !names.contains(line.key.quota) {
            names.append(line.key.quota)
        }
        return names
    }

    // Equality, hashing and coding use the fields id, tenantID, lines, chargedAt and usedAfter,
    // in this order and under these keys, whether the lines are stored inline or in an array.
    private enum CodingKeys: String, CodingKey {
        case id, tenantID, lines, chargedAt, usedAfter
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(UUID.self, forKey: .id), tenantID: try container.decode(TenantID.self, forKey: .tenantID),
            lines: try container.decode([QuotaChargeLine].self, forKey: .lines),
            chargedAt: try container.decode(Date.self, forKey: .chargedAt),
            usedAfter: try container.decode([Int].self, forKey: .usedAfter))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(lines, forKey: .lines)
        try container.encode(chargedAt, forKey: .chargedAt)
        try container.encode(usedAfter, forKey: .usedAfter)
    }

    public static func == (lhs: QuotaCharge, rhs: QuotaCharge) -> Bool {
        lhs.id == rhs.id && lhs.tenantID == rhs.tenantID && lhs.lines == rhs.lines && lhs.chargedAt == rhs.chargedAt
            && lhs.usedAfter == rhs.usedAfter
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(tenantID)
        hasher.combine(lines)
        hasher.combine(chargedAt)
        hasher.combine(usedAfter)
    }
}

/// A quota refused a charge or a lease; nothing was charged.
public struct QuotaExceeded: Error, Hashable, Sendable, CustomStringConvertible {
    /// The quota that refused, such as `debates`.
    public let quotaName: String
    /// The limit in the refusing window; for a shed tier, the part of the global limit it may fill.
    public let limit: Int
    /// The units already used in the window (for a lease quota, the leases held).
    public let used: Int
    /// The units the refused call asked for.
    public let requested: Int
    public let period: QuotaPeriod
    public let tenantID: TenantID
    /// The counter that refused: the tenant's own, its tier's or the global one.
    public let subject: QuotaSubject
    /// Whether the tenant's tier was shed near the global budget.
    public let shed: Bool
    /// The time until the window resets. It is nil for gauges, leases and requests larger than
    /// the whole limit, because waiting would not help them.
    public let retryAfter: Duration?
    /// The instant the window resets; nil for gauges and leases.
    public let resetsAt: Date?

    /// Creates the error; the manager is the usual source.
    public init(
        quotaName: String, limit: Int, used: Int, requested: Int, period: QuotaPeriod, tenantID: TenantID,
        subject: QuotaSubject, shed: Bool = false, retryAfter: Duration?, resetsAt: Date?
    ) {
        self.quotaName = quotaName
        self.limit = limit
        self.used = used
        self.requested = requested
        self.period = period
        self.tenantID = tenantID
        self.subject = subject
        self.shed = shed
        self.retryAfter = retryAfter
        self.resetsAt = resetsAt
    }

    /// ``retryAfter`` rounded up to whole seconds, as HTTP's `Retry-After` and the description
    /// give it; nil when waiting would not help.
    public var retryAfterSeconds: Int64? {
        retryAfter.map { duration in
            let (seconds, attoseconds) = duration.components
            return seconds + (attoseconds > 0 ? 1 : 0)
        }
    }

    public var description: String {
        // A gauge (period none) has one limit with no window, so the period is not named.
        let windowed = period == .none ? "" : "\(period) "
        let counter: String
        switch subject {
        case .tenant: counter = "the \(windowed)limit"
        case .tier(let tier): counter = "the \(windowed)limit shared by the \(tier) tier"
        case .global: counter = shed ? "the share of the global \(windowed)limit open to its tier" : "the global \(windowed)limit"
        }
        var text = "quota '\(quotaName)' exceeded for tenant '\(tenantID)': \(used) used + \(requested) requested would pass \(counter) of \(limit)"
        if let retryAfterSeconds {
            text += "; retry after \(retryAfterSeconds) s"
        }
        return text
    }
}

/// The health of a quota in the usage report.
public enum QuotaStatus: String, Hashable, Sendable, Codable {
    /// Below 80% of the limit.
    case ok
    /// At or above 80% of the limit, with units left.
    case warning
    /// No unit left: the next charge of one unit would be refused.
    case exhausted
}

/// The usage of one quota period of a tenant.
public struct QuotaUsage: Hashable, Sendable, Codable {
    /// The quota name.
    public let quota: String
    /// The period, or ``QuotaPeriod/none`` for gauges and lease quotas.
    public let period: QuotaPeriod
    /// Whether this is a lease quota, whose `used` counts held leases.
    public let isLease: Bool
    public let used: Int
    public let limit: Int
    /// `limit - used`, never below 0.
    public let remaining: Int
    /// `used` as a percentage of `limit`, rounded down; 100 when the limit is 0.
    public let percentage: Int
    /// When the window resets; nil for gauges and lease quotas.
    public let resetsAt: Date?
    public let status: QuotaStatus

    /// Computes the derived fields from `used` and `limit`.
    public init(quota: String, period: QuotaPeriod, isLease: Bool = false, used: Int, limit: Int, resetsAt: Date?) {
        self.quota = quota
        self.period = period
        self.isLease = isLease
        self.used = used
        self.limit = limit
        self.remaining = max(0, limit - used)
        self.resetsAt = resetsAt
        if limit <= 0 {
            percentage = 100
        } else {
            let (scaled, overflow) = used.multipliedReportingOverflow(by: 100)
            percentage = overflow ? Int.max : scaled / limit
        }
        if remaining == 0 {
            status = .exhausted
        } else if used >= limit - limit / 5 {
            // limit - floor(limit / 5) is 80% of the limit rounded up, without overflow.
            status = .warning
        } else {
            status = .ok
        }
    }
}
