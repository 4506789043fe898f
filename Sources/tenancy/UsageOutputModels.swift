import Foundation
import Tenancy

/// The quotas of one tenant as `tenancy usage show --json` prints them.
///
/// Every key is always present, with `null` for an absent value. `period` is `none` for gauges
/// and lease quotas, and `isLease` is true only for lease quotas.
struct UsageReportOutput: Encodable {
    struct Entry: Encodable {
        let quota: String
        let period: String
        let isLease: Bool
        let used: Int
        let limit: Int
        let remaining: Int
        let percentage: Int
        let status: String
        let resetsAt: Date?

        init(_ usage: QuotaUsage) {
            quota = usage.quota
            period = usage.period.rawValue
            isLease = usage.isLease
            used = usage.used
            limit = usage.limit
            remaining = usage.remaining
            percentage = usage.percentage
            status = usage.status.rawValue
            resetsAt = usage.resetsAt
        }

        private enum CodingKeys: String, CodingKey {
            case quota, period, isLease, used, limit, remaining, percentage, status, resetsAt
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(quota, forKey: .quota)
            try container.encode(period, forKey: .period)
            try container.encode(isLease, forKey: .isLease)
            try container.encode(used, forKey: .used)
            try container.encode(limit, forKey: .limit)
            try container.encode(remaining, forKey: .remaining)
            try container.encode(percentage, forKey: .percentage)
            try container.encode(status, forKey: .status)
            try container.encode(resetsAt, forKey: .resetsAt)
        }
    }

    let tenantID: String
    let tier: String
    let timeZone: String
    let quotas: [Entry]

    init(tenant: Tenant, report: [QuotaUsage]) {
        tenantID = tenant.id.rawValue
        tier = tenant.tier.rawValue
        timeZone = tenant.timeZone
        quotas = report.map(Entry.init)
    }
}

/// The result of `tenancy usage charge --json`: the counters after an admitted charge, or the
/// refusal.
///
/// Both shapes have every key. `charged` is false for a refusal, `counters` is empty when
/// refused, and `refusal` is null when charged.
struct ChargeOutput: Encodable {
    /// One counter after the charge.
    struct Counter: Encodable {
        /// `tenant:<id>`, `tier:<tier>` or `global`.
        let subject: String
        let period: String
        let used: Int
        let limit: Int
        let remaining: Int
        let resetsAt: Date?

        private enum CodingKeys: String, CodingKey {
            case subject, period, used, limit, remaining, resetsAt
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(subject, forKey: .subject)
            try container.encode(period, forKey: .period)
            try container.encode(used, forKey: .used)
            try container.encode(limit, forKey: .limit)
            try container.encode(remaining, forKey: .remaining)
            try container.encode(resetsAt, forKey: .resetsAt)
        }
    }

    /// The fields of a ``QuotaExceeded``; `retryAfterSeconds` is rounded up, and null when
    /// waiting would not help.
    struct Refusal: Encodable {
        let quota: String
        let subject: String
        let period: String
        let limit: Int
        let used: Int
        let requested: Int
        let shed: Bool
        let retryAfterSeconds: Int64?
        let resetsAt: Date?

        init(_ refusal: QuotaExceeded) {
            quota = refusal.quotaName
            subject = refusal.subject.storageKey
            period = refusal.period.rawValue
            limit = refusal.limit
            used = refusal.used
            requested = refusal.requested
            shed = refusal.shed
            retryAfterSeconds = refusal.retryAfterSeconds
            resetsAt = refusal.resetsAt
        }

        private enum CodingKeys: String, CodingKey {
            case quota, subject, period, limit, used, requested, shed, retryAfterSeconds, resetsAt
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(quota, forKey: .quota)
            try container.encode(subject, forKey: .subject)
            try container.encode(period, forKey: .period)
            try container.encode(limit, forKey: .limit)
            try container.encode(used, forKey: .used)
            try container.encode(requested, forKey: .requested)
            try container.encode(shed, forKey: .shed)
            try container.encode(retryAfterSeconds, forKey: .retryAfterSeconds)
            try container.encode(resetsAt, forKey: .resetsAt)
        }
    }

    let charged: Bool
    let tenantID: String
    let quota: String
    let amount: Int
    let chargeID: String?
    let chargedAt: Date?
    let counters: [Counter]
    let refusal: Refusal?

    init(charge: QuotaCharge, quota: String, amount: Int) {
        charged = true
        tenantID = charge.tenantID.rawValue
        self.quota = quota
        self.amount = amount
        chargeID = charge.id.uuidString.lowercased()
        chargedAt = charge.chargedAt
        counters = zip(charge.lines, charge.usedAfter).map { line, used in
            Counter(
                subject: line.key.subject.storageKey, period: line.key.period.rawValue, used: used, limit: line.limit,
                remaining: max(0, line.limit - used), resetsAt: line.window.end)
        }
        refusal = nil
    }

    init(refusal: QuotaExceeded, amount: Int) {
        charged = false
        tenantID = refusal.tenantID.rawValue
        quota = refusal.quotaName
        self.amount = amount
        chargeID = nil
        chargedAt = nil
        counters = []
        self.refusal = Refusal(refusal)
    }

    private enum CodingKeys: String, CodingKey {
        case charged, tenantID, quota, amount, chargeID, chargedAt, counters, refusal
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(charged, forKey: .charged)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(quota, forKey: .quota)
        try container.encode(amount, forKey: .amount)
        try container.encode(chargeID, forKey: .chargeID)
        try container.encode(chargedAt, forKey: .chargedAt)
        try container.encode(counters, forKey: .counters)
        try container.encode(refusal, forKey: .refusal)
    }
}

/// The result of `tenancy usage reset --json`; `quota` is null when every quota was reset.
struct ResetOutput: Encodable {
    let tenantID: String
    let quota: String?
    let removed: Int

    private enum CodingKeys: String, CodingKey {
        case tenantID, quota, removed
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(quota, forKey: .quota)
        try container.encode(removed, forKey: .removed)
    }
}
