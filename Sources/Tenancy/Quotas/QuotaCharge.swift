public import Foundation

/// A successful charge: what ``QuotaManager/refund(_:)`` needs to undo it exactly.
///
/// A charge is `Codable`, so a job can refund it later in another process. Decoding one trusts
/// its content: refund only charges this library returned.
public struct QuotaCharge: Hashable, Sendable, Codable, Identifiable {
    /// The charge id; a refund is applied at most once per id.
    public let id: UUID
    public let tenantID: TenantID
    /// Every counter charged: each quota period of the tenant and each aggregate.
    public let lines: [QuotaChargeLine]
    /// The instant the manager's clock read for the charge.
    public let chargedAt: Date
    /// The value of each line's counter right after the charge, in line order.
    public let usedAfter: [Int]

    package init(id: UUID, tenantID: TenantID, lines: [QuotaChargeLine], chargedAt: Date, usedAfter: [Int]) {
        self.id = id
        self.tenantID = tenantID
        self.lines = lines
        self.chargedAt = chargedAt
        self.usedAfter = usedAfter
    }

    /// The quota names charged, in the order the caller named them.
    public var quotas: [String] {
        var names: [String] = []
        for line in lines where !names.contains(line.key.quota) {
            names.append(line.key.quota)
        }
        return names
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

    public var description: String {
        let counter: String
        switch subject {
        case .tenant: counter = "the \(period) limit"
        case .tier(let tier): counter = "the \(period) limit shared by the \(tier) tier"
        case .global: counter = shed ? "the share of the global \(period) limit open to its tier" : "the global \(period) limit"
        }
        var text = "quota '\(quotaName)' exceeded for tenant '\(tenantID)': \(used) used + \(requested) requested would pass \(counter) of \(limit)"
        if let retryAfter {
            text += "; retry after \(retryAfter.components.seconds + (retryAfter.components.attoseconds > 0 ? 1 : 0)) s"
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
