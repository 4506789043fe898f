/// Removes a tenant's quota counters, leases and refund records when the tenant is deleted
/// with purge. Register it with ``TenantManager/register(_:)``.
public struct QuotaPurger: TenantPurger {
    /// The store to purge.
    public let store: any QuotaStore

    /// Creates a purger over `store`.
    public init(store: any QuotaStore) {
        self.store = store
    }

    public var name: String { "quotas" }

    public func purge(_ tenantID: TenantID) async throws -> Int {
        try await store.purge(tenantID)
    }
}
