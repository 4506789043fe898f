/// A lifecycle change, published to ``TenantManager/events()`` subscribers after it is stored.
public enum TenantEvent: Hashable, Sendable {
    case created(Tenant)
    case statusChanged(TenantID, from: TenantStatus, to: TenantStatus)
    case tierChanged(TenantID, from: TenantTier, to: TenantTier)
    case configChanged(TenantID)
    /// A deletion with purge started; the tenant is `deleting`.
    case purgeStarted(TenantID)
    /// The purge finished; the tenant is a `deleted` tombstone.
    case deleted(TenantID, receipt: PurgeReceipt)

    /// The tenant the event is about.
    public var tenantID: TenantID {
        switch self {
        case .created(let tenant): tenant.id
        case .statusChanged(let id, _, _), .tierChanged(let id, _, _), .configChanged(let id),
            .purgeStarted(let id), .deleted(let id, _):
            id
        }
    }
}
