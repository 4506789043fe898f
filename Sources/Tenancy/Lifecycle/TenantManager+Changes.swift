import Foundation

/// Thrown inside a store update to leave the tenant as it is; never escapes the manager.
private struct Unchanged: Error {
    let tenant: Tenant
}

extension TenantManager {
    /// Moves a tenant to another status, following the lifecycle table.
    ///
    /// A change to the current status is a no-op that returns the tenant unchanged. Reactivating
    /// a suspended tenant (`to: .active`) restores the status it had before suspension, so a
    /// suspended trial tenant becomes `trial` again. Restoring a cancelled tenant works within
    /// the retention period. `deleting` and `deleted` are reached only through
    /// ``deleteTenant(_:purgeData:)``, so targeting them always throws, also when the tenant is
    /// already in that status.
    ///
    /// - Parameter reason: why, recorded on a suspension and in the audit trail (no personal
    ///   data).
    /// - Throws: ``InvalidTransitionError`` (nothing changed), ``TenantNotFoundError``,
    ///   ``ValidationError`` for an invalid reason.
    @discardableResult
    public func updateStatus(_ id: TenantID, to target: TenantStatus, reason: String? = nil) async throws -> Tenant {
        let reason = try reason.map(InputRules.validatedReason)
        if target == .deleting || target == .deleted {
            let current = try await tenant(id)
            let error = InvalidTransitionError(
                tenantID: id, from: current.status, to: target,
                detail: "use deleteTenant(_:purgeData: true) or `tenancy delete --purge`")
            await recordRefusal(.statusChanged, tenant: id, outcome: .denied, detail: "\(current.status) -> \(target)")
            throw error
        }
        return try await changeStatus(id, to: target, reason: reason).tenant
    }

    /// Applies a status change in one atomic store update, with its audit record and event.
    ///
    /// - Parameter leavesUnchanged: returns true for a stored tenant that this call must leave
    ///   as it is (a no-op, as for the target status) instead of moving it or failing.
    /// - Returns: the stored tenant, and whether this call changed it; false for a no-op.
    func changeStatus(
        _ id: TenantID, to target: TenantStatus, reason: String?,
        leavesUnchanged: @escaping @Sendable (Tenant) -> Bool = { _ in false }
    ) async throws -> (tenant: Tenant, changed: Bool) {
        let now = clock.now().truncatedToMilliseconds
        let retention = retentionPeriod.timeInterval
        let before: Tenant
        let updated: Tenant
        do {
            (before, updated) = try await store.update(id) { tenant in
                if leavesUnchanged(tenant) { throw Unchanged(tenant: tenant) }
                return try Self.applyingStatus(target, to: tenant, reason: reason, now: now, retention: retention)
            }
        } catch let unchanged as Unchanged {
            return (unchanged.tenant, false)
        } catch let error as InvalidTransitionError {
            await recordRefusal(.statusChanged, tenant: id, outcome: .denied, detail: "\(error.from) -> \(error.to)")
            throw error
        }
        let from = before.status
        var detail = "\(from) -> \(updated.status)"
        if let reason { detail += "; reason: \(reason)" }
        try await record(target == .cancelled ? .tenantCancelled : .statusChanged, tenant: id, detail: detail)
        publish(.statusChanged(id, from: from, to: updated.status))
        logger.info("tenant status changed", ["tenant.id": id.rawValue, "tenant.status": updated.status.rawValue])
        return (updated, true)
    }

    /// Returns `tenant` moved to `target`, or throws ``Unchanged`` or ``InvalidTransitionError``.
    static func applyingStatus(
        _ target: TenantStatus, to tenant: Tenant, reason: String?, now: Date, retention: TimeInterval
    ) throws -> Tenant {
        if tenant.status == target { throw Unchanged(tenant: tenant) }
        guard let resolved = tenant.status.resolvedTransition(to: target, statusBeforeSuspension: tenant.statusBeforeSuspension) else {
            throw InvalidTransitionError(tenantID: tenant.id, from: tenant.status, to: target)
        }
        if tenant.status == .cancelled, resolved == .active, let cancelledAt = tenant.deletedAt,
            now > cancelledAt.addingTimeInterval(retention)
        {
            throw InvalidTransitionError(
                tenantID: tenant.id, from: tenant.status, to: target,
                detail: "the retention period ended at \(cancelledAt.addingTimeInterval(retention).ISO8601Format()); the tenant can only be purged")
        }

        var changed = tenant
        changed.status = resolved
        changed.updatedAt = now
        switch resolved {
        case .suspended:
            changed.statusBeforeSuspension = tenant.status
            changed.suspensionReason = reason
        case .cancelled:
            changed.statusBeforeSuspension = nil
            changed.suspensionReason = nil
            changed.deletedAt = now
        case .deleted:
            changed.deletedAt = now
        default:
            changed.statusBeforeSuspension = nil
            changed.suspensionReason = nil
            if tenant.status == .cancelled { changed.deletedAt = nil }
        }
        return changed
    }

    /// Changes a tenant's tier; its overrides stay as they are.
    ///
    /// - Throws: ``TenantStateError`` for a `deleting` or `deleted` tenant,
    ///   ``TenantNotFoundError``.
    @discardableResult
    public func updateTier(_ id: TenantID, to tier: TenantTier) async throws -> Tenant {
        let now = clock.now().truncatedToMilliseconds
        let before: Tenant
        let updated: Tenant
        do {
            (before, updated) = try await store.update(id) { tenant in
                if tenant.tier == tier { throw Unchanged(tenant: tenant) }
                try Self.checkChangeable(tenant, operation: "change the tier")
                var changed = tenant
                changed.tier = tier
                changed.updatedAt = now
                return changed
            }
        } catch let unchanged as Unchanged {
            return unchanged.tenant
        }
        try await record(.tierChanged, tenant: id, detail: "\(before.tier) -> \(tier)")
        publish(.tierChanged(id, from: before.tier, to: tier))
        return updated
    }

    /// Replaces a tenant's overrides.
    ///
    /// - Throws: ``ValidationError`` for an invalid config, ``TenantStateError`` for a
    ///   `deleting` or `deleted` tenant, ``TenantNotFoundError``.
    @discardableResult
    public func updateConfig(_ id: TenantID, _ config: TenantConfig) async throws -> Tenant {
        try config.validate()
        let now = clock.now().truncatedToMilliseconds
        let updated: Tenant
        do {
            updated = try await store.update(id) { tenant in
                if tenant.config == config { throw Unchanged(tenant: tenant) }
                try Self.checkChangeable(tenant, operation: "change the config")
                var changed = tenant
                changed.config = config
                changed.updatedAt = now
                return changed
            }.after
        } catch let unchanged as Unchanged {
            return unchanged.tenant
        }
        try await record(.configChanged, tenant: id)
        publish(.configChanged(id))
        return updated
    }

    static func checkChangeable(_ tenant: Tenant, operation: String) throws {
        if tenant.status == .deleting || tenant.status == .deleted {
            throw TenantStateError(tenantID: tenant.id, status: tenant.status, operation: operation)
        }
    }
}

extension Duration {
    /// The duration in seconds as a `TimeInterval`.
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
