/// Removes a tenant's files from a ``TenantFileStorage`` during deletion with purge.
public struct TenantFilePurger: TenantPurger {
    let storage: TenantFileStorage

    public init(_ storage: TenantFileStorage) {
        self.storage = storage
    }

    public var name: String { "tenant-files" }

    public func purge(_ tenantID: TenantID) async throws -> Int {
        try storage.purge(tenantID)
    }
}
