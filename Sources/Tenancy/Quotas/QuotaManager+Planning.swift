import Foundation

/// The tenant a decision is for, as the manager needs it.
struct QuotaTenant {
    let id: TenantID
    /// Nil for a standalone manager.
    let tier: TenantTier?
    /// Nil for a standalone manager.
    let limits: TenantLimits?
    let timeZone: String
}

/// The counters of one decision, and what to say when one refuses.
struct QuotaPlan {
    let tenantID: TenantID
    let now: Date
    let nowMilliseconds: Int64
    let lines: [QuotaChargeLine]
    /// Indexes of lines whose limit is the shed share of a global limit.
    let shedLines: Set<Int>

    func refusal(at index: Int, used: Int) -> QuotaExceeded {
        Self.refusal(of: lines[index], used: used, tenantID: tenantID, shed: shedLines.contains(index), nowMilliseconds: nowMilliseconds)
    }

    /// Returns the error for a line that would pass its limit with `used` units already in
    /// its window.
    static func refusal(of line: QuotaChargeLine, used: Int, tenantID: TenantID, shed: Bool, nowMilliseconds: Int64) -> QuotaExceeded {
        let window = line.window
        let waitingHelps = !window.isUnbounded && line.amount <= line.limit
        return QuotaExceeded(
            quotaName: line.key.quota, limit: line.limit, used: used, requested: line.amount, period: line.key.period,
            tenantID: tenantID, subject: line.key.subject, shed: shed,
            retryAfter: waitingHelps ? .milliseconds(window.endMilliseconds - nowMilliseconds) : nil,
            resetsAt: window.end)
    }
}

extension QuotaManager {
    /// Loads the tenant from the registry, refusing unknown and (when `requireActive`)
    /// inactive tenants; standalone, every valid id is a tenant in UTC.
    func resolve(_ id: TenantID, requireActive: Bool = true) async throws -> QuotaTenant {
        guard let tenants else {
            return QuotaTenant(id: id, tier: nil, limits: nil, timeZone: "UTC")
        }
        guard let tenant = try await tenants.tenant(id) else { throw TenantNotFoundError(tenantID: id) }
        if requireActive && !tenant.status.admitsScope {
            if tenant.status == .suspended { throw TenantSuspendedError(tenantID: id, reason: tenant.suspensionReason) }
            throw TenantUnavailableError(tenantID: id, status: tenant.status)
        }
        return QuotaTenant(id: id, tier: tenant.tier, limits: tenant.limits, timeZone: tenant.timeZone)
    }

    /// Returns the effective limit of each period of a windowed or gauge quota, in period
    /// order: the tenant's limit capped by the configuration, or whichever of the two exists.
    ///
    /// - Throws: ``ValidationError`` for an invalid or unknown name, or a lease quota.
    func limits(of quota: String, for tenant: QuotaTenant) throws -> [(period: QuotaPeriod, limit: Int)] {
        try QuotaCatalog.validateName(quota)
        let limits = Self.effectiveLimits(of: quota, tenantLimits: tenant.limits, config: config)
        if limits.isEmpty {
            if isLeaseQuota(quota, for: tenant) {
                throw ValidationError(
                    .invalidArgument, field: "quota",
                    message: "quota '\(quota)' is a concurrency quota: use acquire(_:tenantID:) or withLease, not a charge")
            }
            throw unknownQuota(quota, for: tenant)
        }
        return limits
    }

    /// Returns the effective limit of each period of `quota` in period order, clamped to 0 to
    /// ``QuotaConfig/maximumAmount``. It is empty when neither the tenant nor the configuration
    /// limits the quota. Standalone managers pass nil `tenantLimits`.
    static func effectiveLimits(of quota: String, tenantLimits: TenantLimits?, config: QuotaConfig) -> [(period: QuotaPeriod, limit: Int)] {
        let tierLimits = tenantLimits == nil ? [] : QuotaCatalog.tierLimits(quota)
        var limits: [(period: QuotaPeriod, limit: Int)] = []
        for period in QuotaPeriod.allCases {
            var limit = tenantLimits.flatMap { tenantLimits in
                tierLimits.first { $0.period == period }.map { tenantLimits[keyPath: $0.value] }
            }
            for configured in config.limits where configured.name == quota && configured.period == period {
                limit = min(limit ?? .max, configured.limit)
            }
            if let limit {
                limits.append((period, min(max(limit, 0), QuotaConfig.maximumAmount)))
            }
        }
        return limits
    }

    /// Returns the effective limit of a lease quota.
    func leaseLimit(of quota: String, for tenant: QuotaTenant) throws -> Int {
        try QuotaCatalog.validateName(quota)
        var limit: Int?
        if let limits = tenant.limits, let keyPath = QuotaCatalog.tierLeaseLimit(quota) {
            limit = limits[keyPath: keyPath]
        }
        if let configured = config.leaseLimits.first(where: { $0.name == quota }) {
            limit = min(limit ?? .max, configured.limit)
        }
        guard let limit else {
            if (try? limits(of: quota, for: tenant)) != nil {
                throw ValidationError(
                    .invalidArgument, field: "quota",
                    message: "quota '\(quota)' is not a concurrency quota: charge it with checkAndIncrement")
            }
            throw unknownQuota(quota, for: tenant)
        }
        return min(max(limit, 0), QuotaConfig.maximumAmount)
    }

    func isLeaseQuota(_ quota: String, for tenant: QuotaTenant) -> Bool {
        (tenant.limits != nil && QuotaCatalog.tierLeaseLimit(quota) != nil) || config.leaseLimits.contains { $0.name == quota }
    }

    /// Returns every quota name this tenant has, built-in ones first.
    func quotaNames(for tenant: QuotaTenant) -> [String] {
        var names: [String] = tenant.limits == nil ? [] : QuotaCatalog.builtInNames
        for name in config.limits.map(\.name) + config.leaseLimits.map(\.name) where !names.contains(name) {
            names.append(name)
        }
        return names
    }

    func unknownQuota(_ quota: String, for tenant: QuotaTenant) -> ValidationError {
        let known = quotaNames(for: tenant)
        return ValidationError(
            .invalidArgument, field: "quota",
            message: "unknown quota '\(quota)': "
                + (known.isEmpty ? "no quota is configured" : "known quotas are \(known.joined(separator: ", "))"))
    }

    /// Returns the aggregate limits that a charge of `quota` by this tenant also charges.
    func aggregates(of quota: String, for tenant: QuotaTenant) -> [QuotaAggregateLimit] {
        Self.aggregates(of: quota, tier: tenant.tier, config: config)
    }

    /// Returns the aggregate limits that a charge of `quota` by a tenant of `tier` also
    /// charges. A standalone manager passes a nil tier and gets the global ones.
    static func aggregates(of quota: String, tier: TenantTier?, config: QuotaConfig) -> [QuotaAggregateLimit] {
        config.aggregates.filter { aggregate in
            guard aggregate.limit.name == quota else { return false }
            switch aggregate.subject {
            case .global: return true
            case .tier(let aggregateTier): return aggregateTier == tier
            case .tenant: return false
            }
        }
    }

    static func validateAmount(_ amount: Int, quota: String) throws {
        guard (1...QuotaConfig.maximumAmount).contains(amount) else {
            throw ValidationError(
                .invalidArgument, field: "amount",
                message: "invalid amount \(amount) for quota \(TenantID.quotedForMessage(quota)): expected 1 to \(QuotaConfig.maximumAmount)")
        }
    }

    /// Validates the request, resolves the tenant and computes every line to charge.
    func plan(_ amounts: [(String, Int)], tenantID: TenantID) async throws -> QuotaPlan {
        guard !amounts.isEmpty else {
            throw ValidationError(.invalidArgument, field: "quota", message: "no quota named: name at least one quota to charge")
        }
        // Most charges name one to a few quotas, where a scan of the earlier names costs less
        // than building a set.
        var seen: Set<String> = []
        for (index, (quota, amount)) in amounts.enumerated() {
            try QuotaCatalog.validateName(quota)
            try Self.validateAmount(amount, quota: quota)
            let named = amounts.count <= 8 ? amounts[..<index].contains { $0.0 == quota } : !seen.insert(quota).inserted
            if named {
                throw ValidationError(
                    .invalidArgument, field: "quota",
                    message: "quota '\(quota)' is named twice in one charge: name each quota once with the total amount")
            }
        }
        let tenant = try await resolve(tenantID)
        // Every name is checked before the clock is read, so no line is built for a request
        // that fails validation.
        let limitsByQuota = try amounts.map { quota, _ in try limits(of: quota, for: tenant) }

        let now = clock.now()
        let milliseconds = now.millisecondsSince1970
        var lines: [QuotaChargeLine] = []
        var shedLines: Set<Int> = []
        for ((quota, amount), limits) in zip(amounts, limitsByQuota) {
            for (period, limit) in limits {
                let window = try windows.window(period, containing: milliseconds, timeZone: tenant.timeZone)
                lines.append(QuotaChargeLine(
                    key: QuotaCounterKey(subject: .tenant(tenantID), quota: quota, period: period),
                    window: window, amount: amount, limit: limit))
            }
            for aggregate in aggregates(of: quota, for: tenant) {
                var limit = aggregate.limit.limit
                if aggregate.subject == .global, let shedding = config.shedding, let tier = tenant.tier, tier < shedding.protectedTier {
                    limit = shedding.shedLimit(limit)
                    shedLines.insert(lines.count)
                }
                let window = try windows.window(aggregate.limit.period, containing: milliseconds, timeZone: "UTC")
                lines.append(QuotaChargeLine(
                    key: QuotaCounterKey(subject: aggregate.subject, quota: quota, period: aggregate.limit.period),
                    window: window, amount: amount, limit: limit))
            }
        }
        return QuotaPlan(tenantID: tenantID, now: now, nowMilliseconds: milliseconds, lines: lines, shedLines: shedLines)
    }
}
