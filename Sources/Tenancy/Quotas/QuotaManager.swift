import Foundation

/// Per-tenant quotas that are exact under any concurrency and charge nothing when they refuse.
///
/// With a tenant registry attached, a quota's limit is the tenant's override, else its tier
/// default, capped by ``config`` (the smaller wins); windows follow the tenant's time zone; and
/// unknown or inactive tenants are refused before any state is allocated. Each decision reads
/// the tenant again, so a change is seen by the next decision in every process. Standalone,
/// the ``config`` limits apply to every valid tenant id, in UTC.
///
/// Every decision is one call to the ``QuotaStore``, which applies it in one atomic step.
public final class QuotaManager: Sendable {
    /// The limits this manager enforces or caps with.
    public let config: QuotaConfig
    /// The store of counters, refunds and leases.
    public let store: any QuotaStore
    /// The tenant registry, or nil for a standalone manager.
    public let tenants: (any TenantStore)?
    /// The time source of every window and lease expiry.
    public let clock: any TenancyClock

    let windows = QuotaWindowCache()
    let logger: TenancyLogger
    /// The configured quotas' lines, for a standalone manager; nil with a registry, where
    /// limits and time zones vary per tenant and per call.
    let standalone: QuotaStandaloneTable?
    /// The store when it is in memory, so a decision calls it without a suspension point.
    let memoryStore: InMemoryQuotaStore?

    /// Creates a manager.
    ///
    /// - Parameters:
    ///   - config: the limits (standalone) or the caps (with a registry).
    ///   - tenants: the tenant registry; nil for a standalone manager.
    /// - Throws: ``ValidationError`` when `config` is invalid.
    public init(
        _ config: QuotaConfig = QuotaConfig(),
        store: any QuotaStore = InMemoryQuotaStore(),
        tenants: (any TenantStore)? = nil,
        clock: any TenancyClock = SystemClock(),
        logger: TenancyLogger = .disabled
    ) throws {
        try config.validate()
        self.config = config
        self.store = store
        self.tenants = tenants
        self.clock = clock
        self.logger = logger
        self.memoryStore = store as? InMemoryQuotaStore
        self.standalone = tenants == nil ? try Self.standaloneTable(config, windows: windows) : nil
    }

    /// Creates a manager over the registry of a ``TenantManager``, using its clock.
    public convenience init(_ config: QuotaConfig = QuotaConfig(), store: any QuotaStore = InMemoryQuotaStore(), tenants manager: TenantManager) throws {
        try self.init(config, store: store, tenants: manager.store, clock: manager.clock)
    }

    // MARK: - Charging

    /// Charges `amount` units of one quota (every period it has) and returns the charge.
    ///
    /// Reaching a limit exactly is allowed; one unit more is refused.
    ///
    /// - Throws: ``QuotaExceeded`` when a counter would pass its limit (nothing is charged);
    ///   ``ValidationError`` for an unknown quota or an amount outside 1 to
    ///   ``QuotaConfig/maximumAmount``; ``TenantNotFoundError``, ``TenantSuspendedError`` or
    ///   ``TenantUnavailableError`` with a registry attached.
    // It runs on the caller's executor, so a standalone decision in memory, which never
    // suspends, costs no executor switch. Paths that reach a store or registry still hop.
    @discardableResult
    nonisolated(nonsending) public func checkAndIncrement(_ quota: String, tenantID: TenantID, by amount: Int = 1) async throws -> QuotaCharge {
        guard let configured = standalone?.quota(named: quota) else {
            return try await checkAndIncrement([(quota, amount)], tenantID: tenantID)
        }
        // The name is valid, because the configuration that names it was validated. The amount
        // is checked inline, because the call that builds the error costs a few nanoseconds.
        if amount < 1 || amount > QuotaConfig.maximumAmount {
            try Self.validateAmount(amount, quota: configured.name)
        }
        let now = clock.now()
        if let only = configured.onlyTenantLine, let memoryStore {
            return try chargeInMemory(only, of: configured.name, tenantID: tenantID, amount: amount, now: now, store: memoryStore)
        }
        let nowMilliseconds = now.millisecondsSince1970
        let lines = configured.lines.map {
            $0.chargeLine(quota: configured.name, tenantID: tenantID, amount: amount, nowMilliseconds: nowMilliseconds)
        }
        return try await charge(QuotaPlan(tenantID: tenantID, now: now, nowMilliseconds: nowMilliseconds, lines: lines, shedLines: []))
    }

    /// Charges several quotas, each with its own amount, all in one atomic step or none.
    ///
    /// - Throws: as ``checkAndIncrement(_:tenantID:by:)``; also ``ValidationError`` when a
    ///   quota is named twice.
    @discardableResult
    public func checkAndIncrement(_ amounts: KeyValuePairs<String, Int>, tenantID: TenantID) async throws -> QuotaCharge {
        try await checkAndIncrement(amounts.map { ($0.key, $0.value) }, tenantID: tenantID)
    }

    /// Charges the same amount to several quotas, all in one atomic step or none.
    @discardableResult
    public func checkAndIncrement(_ quotas: [String], tenantID: TenantID, by amount: Int = 1) async throws -> QuotaCharge {
        try await checkAndIncrement(quotas.map { ($0, amount) }, tenantID: tenantID)
    }

    func checkAndIncrement(_ amounts: [(String, Int)], tenantID: TenantID) async throws -> QuotaCharge {
        try await charge(try await plan(amounts, tenantID: tenantID))
    }

    /// Charges the one line of a standalone quota in memory: the decision of the general path
    /// with no array, no suspension point and one hash of the counter key.
    private func chargeInMemory(
        _ configured: QuotaStandaloneTable.TenantLine, of quota: String, tenantID: TenantID, amount: Int, now: Date, store: InMemoryQuotaStore
    ) throws -> QuotaCharge {
        let nowMilliseconds = now.millisecondsSince1970
        let line = configured.chargeLine(quota: quota, tenantID: tenantID, amount: amount, nowMilliseconds: nowMilliseconds)
        switch store.chargeNow(line) {
        case .charged(let usedAfter):
            return QuotaCharge(id: UniqueID.next(), tenantID: tenantID, line: line, chargedAt: now, usedAfter: usedAfter)
        case .rejected(let used):
            throw refused(QuotaPlan.refusal(of: line, used: used, tenantID: tenantID, shed: false, nowMilliseconds: nowMilliseconds))
        }
    }

    /// Applies a plan in one call to the store.
    private func charge(_ plan: QuotaPlan) async throws -> QuotaCharge {
        let outcome = if let memoryStore { memoryStore.chargeNow(plan.lines) } else { try await store.charge(plan.lines) }
        switch outcome {
        case .charged(let usedAfter):
            return QuotaCharge(id: UniqueID.next(), tenantID: plan.tenantID, lines: plan.lines, chargedAt: plan.now, usedAfter: usedAfter)
        case .rejected(let index, let used):
            throw refused(plan.refusal(at: index, used: used))
        }
    }

    /// Logs a refusal and returns it, for the caller to throw.
    private func refused(_ refusal: QuotaExceeded) -> QuotaExceeded {
        logger.info(
            "quota rejected",
            ["tenant.id": refusal.tenantID.rawValue, "quota.name": refusal.quotaName, "quota.subject": refusal.subject.storageKey])
        return refusal
    }

    /// Returns whether a charge of `amount` units would be admitted now, charging nothing.
    ///
    /// Another caller may charge between this check and a later charge; only
    /// ``checkAndIncrement(_:tenantID:by:)`` decides atomically.
    public func check(_ quota: String, tenantID: TenantID, by amount: Int = 1) async throws -> QuotaCheck {
        let plan = try await plan([(quota, amount)], tenantID: tenantID)
        let used = try await store.used(plan.lines.map { ($0.key, $0.window) })
        for (index, line) in plan.lines.enumerated() where used[index] > line.limit - line.amount {
            return QuotaCheck(refusal: plan.refusal(at: index, used: used[index]))
        }
        return QuotaCheck(refusal: nil)
    }

    /// Undoes a charge in exactly the windows it charged: never below zero, at most once per
    /// charge id, and not at all in a window that has rolled over.
    ///
    /// - Returns: false when this charge was refunded before.
    @discardableResult
    public func refund(_ charge: QuotaCharge) async throws -> Bool {
        let keepUntil = charge.lines.map(\.window.endMilliseconds).max() ?? 0
        let refunded = try await store.refund(
            chargeID: charge.id, tenantID: charge.tenantID, lines: charge.lines, keepUntil: keepUntil,
            now: clock.now().millisecondsSince1970)
        logger.info(
            refunded ? "quota charge refunded" : "quota charge already refunded",
            ["tenant.id": charge.tenantID.rawValue, "quota.charge": charge.id.uuidString])
        return refunded
    }

    /// Lowers a gauge (a quota with period ``QuotaPeriod/none``, such as `storage_bytes`) by
    /// `amount`, never below zero, and returns the tenant's new value.
    ///
    /// It works for a tenant in any status, because a suspended tenant's files may still be
    /// deleted. Aggregate gauges of the same name go down by the same amount.
    ///
    /// - Throws: ``ValidationError`` when the quota has no gauge or the amount is out of range;
    ///   ``TenantNotFoundError`` with a registry attached.
    @discardableResult
    public func decrement(_ quota: String, tenantID: TenantID, by amount: Int) async throws -> Int {
        try Self.validateAmount(amount, quota: quota)
        let tenant = try await resolve(tenantID, requireActive: false)
        let limits = try self.limits(of: quota, for: tenant)
        guard limits.contains(where: { $0.period == .none }) else {
            throw ValidationError(
                .invalidArgument, field: "quota",
                message: "quota '\(quota)' is not a gauge: only quotas with period none can be decremented; use refund(_:) for windowed charges")
        }
        let value = try await store.decrement(QuotaCounterKey(subject: .tenant(tenantID), quota: quota, period: .none), by: amount)
        for aggregate in aggregates(of: quota, for: tenant) where aggregate.limit.period == .none {
            _ = try await store.decrement(QuotaCounterKey(subject: aggregate.subject, quota: quota, period: .none), by: amount)
        }
        return value
    }

    /// Removes a tenant's counters and leases, of one quota or of all, and returns how many
    /// it removed. For operators; the tenant may be in any status.
    @discardableResult
    public func reset(tenantID: TenantID, quota: String? = nil) async throws -> Int {
        let tenant = try await resolve(tenantID, requireActive: false)
        if let quota {
            if !isLeaseQuota(quota, for: tenant) { _ = try limits(of: quota, for: tenant) }
        }
        let removed = try await store.reset(.tenant(tenantID), quota: quota)
        logger.info("quota reset", ["tenant.id": tenantID.rawValue, "quota.name": quota ?? "*", "removed": "\(removed)"])
        return removed
    }
}

/// The result of ``QuotaManager/check(_:tenantID:by:)``.
public struct QuotaCheck: Hashable, Sendable {
    /// The reason a charge would be rejected, or nil when it would be admitted.
    public let refusal: QuotaExceeded?

    /// Whether a charge would be admitted now.
    public var isAllowed: Bool { refusal == nil }
}
