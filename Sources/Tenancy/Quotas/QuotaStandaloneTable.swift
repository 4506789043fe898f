import Foundation

/// The lines of every configured quota of a standalone manager, computed once at creation.
///
/// Without a registry every tenant has the same limits, in UTC, and no tier, so the lines of
/// a charge differ between tenants only in the tenant id. A decision then looks up the quota
/// name here and reads each window from its slot, with no `Calendar` call, dictionary or lock
/// on the way to the store.
struct QuotaStandaloneTable: Sendable {
    /// One configured windowed or gauge quota. It is a class, so a lookup copies one
    /// reference instead of the name and the array.
    final class Quota: Sendable {
        let name: String
        /// In the order the general path builds them: the tenant's periods, then aggregates.
        let lines: [Line]
        /// The tenant's counter when it is the only line, the common case with a fast path.
        let onlyTenantLine: TenantLine?

        init(name: String, lines: [Line]) {
            self.name = name
            self.lines = lines
            if lines.count == 1, lines[0].aggregate == nil {
                onlyTenantLine = TenantLine(period: lines[0].period, limit: lines[0].limit, slot: lines[0].slot)
            } else {
                onlyTenantLine = nil
            }
        }
    }

    /// The tenant's own counter of a quota, without the subject that ``Line`` carries.
    struct TenantLine: Sendable {
        let period: QuotaPeriod
        let limit: Int
        /// Nil for a gauge, whose window is ``QuotaWindow/unbounded``.
        ///
        /// Unowned, so copying the line costs no reference count. That is sound because the
        /// manager's ``QuotaWindowCache`` keeps every slot it returned for as long as the
        /// manager lives, and the manager owns this table.
        unowned(unsafe) let slot: QuotaWindowSlot?

        func chargeLine(quota: String, tenantID: TenantID, amount: Int, nowMilliseconds: Int64) -> QuotaChargeLine {
            QuotaChargeLine(
                key: QuotaCounterKey(subject: .tenant(tenantID), quota: quota, period: period),
                window: slot?.window(containing: nowMilliseconds) ?? .unbounded, amount: amount, limit: limit)
        }
    }

    /// One counter that a charge of the quota adds to.
    struct Line: Sendable {
        /// Nil for the tenant's own counter.
        let aggregate: QuotaSubject?
        let period: QuotaPeriod
        let limit: Int
        /// Nil for a gauge, whose window is ``QuotaWindow/unbounded``.
        let slot: QuotaWindowSlot?

        func chargeLine(quota: String, tenantID: TenantID, amount: Int, nowMilliseconds: Int64) -> QuotaChargeLine {
            QuotaChargeLine(
                key: QuotaCounterKey(subject: aggregate ?? .tenant(tenantID), quota: quota, period: period),
                window: slot?.window(containing: nowMilliseconds) ?? .unbounded, amount: amount, limit: limit)
        }
    }

    private let quotas: [Quota]
    /// The index of each name in `quotas`, built only when a scan would be slower than hashing.
    private let indexByName: [String: Int]

    /// The number of quotas up to which comparing names one by one beats hashing the name.
    private static let maximumScannedCount = 8

    init(_ quotas: [Quota]) {
        self.quotas = quotas
        indexByName = quotas.count > Self.maximumScannedCount
            ? Dictionary(uniqueKeysWithValues: quotas.enumerated().map { ($1.name, $0) }) : [:]
    }

    /// Returns the configured quota with this name, or nil for a name the configuration does
    /// not limit (a lease quota, an unknown or an invalid name).
    func quota(named name: String) -> Quota? {
        if quotas.count > Self.maximumScannedCount {
            return indexByName[name].map { quotas[$0] }
        }
        return quotas.first { $0.name == name }
    }
}

extension QuotaManager {
    /// Builds the table of a standalone manager from its configuration, with the same limits
    /// and aggregates as ``plan(_:tenantID:)`` computes per call.
    static func standaloneTable(_ config: QuotaConfig, windows: QuotaWindowCache) throws -> QuotaStandaloneTable {
        var names: [String] = []
        for limit in config.limits where !names.contains(limit.name) {
            names.append(limit.name)
        }
        let quotas = try names.map { name in
            var lines = try effectiveLimits(of: name, tenantLimits: nil, config: config).map { period, limit in
                QuotaStandaloneTable.Line(
                    aggregate: nil, period: period, limit: limit,
                    slot: period == .none ? nil : try windows.slot(period, timeZone: "UTC"))
            }
            for aggregate in aggregates(of: name, tier: nil, config: config) {
                let period = aggregate.limit.period
                lines.append(QuotaStandaloneTable.Line(
                    aggregate: aggregate.subject, period: period, limit: aggregate.limit.limit,
                    slot: period == .none ? nil : try windows.slot(period, timeZone: "UTC")))
            }
            return QuotaStandaloneTable.Quota(name: name, lines: lines)
        }
        return QuotaStandaloneTable(quotas)
    }
}
