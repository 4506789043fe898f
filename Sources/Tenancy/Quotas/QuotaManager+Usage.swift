import Foundation

extension QuotaManager {
    /// Returns the usage of every quota the tenant has, one entry per period, built-in quotas
    /// first; lease quotas report the leases held now.
    ///
    /// It works for a tenant in any status, so operators can inspect a suspended tenant.
    ///
    /// - Throws: ``TenantNotFoundError`` with a registry attached.
    public func usage(tenantID: TenantID) async throws -> [QuotaUsage] {
        let tenant = try await resolve(tenantID, requireActive: false)
        let now = clock.now().millisecondsSince1970
        var entries: [(quota: String, period: QuotaPeriod, limit: Int, window: QuotaWindow?)] = []
        for quota in quotaNames(for: tenant) {
            if isLeaseQuota(quota, for: tenant) {
                entries.append((quota, .none, try leaseLimit(of: quota, for: tenant), nil))
            } else if let limits = try? limits(of: quota, for: tenant) {
                for (period, limit) in limits {
                    entries.append((quota, period, limit, try windows.window(period, containing: now, timeZone: tenant.timeZone)))
                }
            }
        }
        let windowed = entries.compactMap { entry in
            entry.window.map { (key: QuotaCounterKey(subject: .tenant(tenantID), quota: entry.quota, period: entry.period), window: $0) }
        }
        var used = try await store.used(windowed).makeIterator()
        var report: [QuotaUsage] = []
        for entry in entries {
            if let window = entry.window {
                report.append(QuotaUsage(
                    quota: entry.quota, period: entry.period, used: used.next() ?? 0, limit: entry.limit, resetsAt: window.end))
            } else {
                let key = QuotaCounterKey(subject: .tenant(tenantID), quota: entry.quota, period: .none)
                let active = try await store.activeLeases(key, now: now)
                report.append(QuotaUsage(quota: entry.quota, period: .none, isLease: true, used: active, limit: entry.limit, resetsAt: nil))
            }
        }
        return report
    }
}
