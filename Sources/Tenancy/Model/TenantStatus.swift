/// Where a tenant is in its lifecycle.
///
/// Only ``trial`` and ``active`` tenants may enter a tenant scope. The allowed transitions are
/// one table, ``allowedTransitions``; every other pair is rejected.
public enum TenantStatus: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    /// Created, waiting for provisioning.
    case pending
    /// Provisioning runs.
    case provisioning
    /// In a trial; may enter a scope.
    case trial
    /// In service; may enter a scope.
    case active
    /// Blocked, with the status before suspension kept for reactivation.
    case suspended
    /// Soft deleted; restorable within the manager's retention period.
    case cancelled
    /// A purge runs; the deletion job resumes after a crash.
    case deleting
    /// A tombstone: the tenant's data is purged.
    case deleted

    public var description: String { rawValue }

    /// Whether a tenant in this status may enter a tenant scope.
    public var admitsScope: Bool { self == .trial || self == .active }

    /// Every transition the lifecycle allows, by source status.
    ///
    /// From `suspended`, the target `active` means "reactivate" and resolves to the stored
    /// status before suspension (so a suspended trial tenant becomes `trial` again); the target
    /// `trial` is allowed only when the tenant was a trial tenant. `deleting` and `deleted` are
    /// reached only through ``TenantManager/deleteTenant(_:purgeData:)``.
    public static let allowedTransitions: [TenantStatus: Set<TenantStatus>] = [
        .pending: [.provisioning, .trial, .active, .cancelled, .deleting],
        .provisioning: [.trial, .active, .pending, .deleting],
        .trial: [.active, .suspended, .cancelled, .deleting],
        .active: [.suspended, .cancelled, .deleting],
        .suspended: [.trial, .active, .cancelled, .deleting],
        .cancelled: [.active, .deleting],
        .deleting: [.deleted],
        .deleted: [],
    ]

    /// Returns the status a tenant ends in when asked to move from `self` to `target`, or nil
    /// when the table does not allow it.
    ///
    /// - Parameter statusBeforeSuspension: the stored status before suspension, used when
    ///   leaving `suspended`.
    public func resolvedTransition(to target: TenantStatus, statusBeforeSuspension: TenantStatus?) -> TenantStatus? {
        guard Self.allowedTransitions[self, default: []].contains(target) else { return nil }
        if self == .suspended && (target == .active || target == .trial) {
            let previous = statusBeforeSuspension ?? .active
            if target == .trial && previous != .trial { return nil }
            return previous
        }
        return target
    }
}
