import Synchronization

/// A tenant registry in memory, for tests and single-process services without persistence.
public final class InMemoryTenantStore: TenantStore {
    private let tenants = Mutex<[TenantID: Tenant]>([:])

    public init() {}

    public func insert(_ tenant: Tenant) async throws {
        try tenants.withLock { tenants in
            if tenants[tenant.id] != nil { throw TenantAlreadyExistsError(tenantID: tenant.id) }
            tenants[tenant.id] = tenant
        }
    }

    public func tenant(_ id: TenantID) async throws -> Tenant? {
        tenants.withLock { $0[id] }
    }

    @discardableResult
    public func update(_ id: TenantID, _ change: @Sendable (Tenant) throws -> Tenant) async throws -> (before: Tenant, after: Tenant) {
        try tenants.withLock { tenants in
            guard let current = tenants[id] else { throw TenantNotFoundError(tenantID: id) }
            let changed = try change(current)
            precondition(changed.id == id, "a tenant update must not change the id")
            tenants[id] = changed
            return (current, changed)
        }
    }

    public func list(_ query: TenantQuery) async throws -> TenantPage {
        try query.validate()
        let matching = tenants.withLock { tenants in
            tenants.values
                .filter { tenant in
                    (query.status == nil || tenant.status == query.status)
                        && (query.tier == nil || tenant.tier == query.tier)
                        && (query.after.map { tenant.id > $0 } ?? true)
                }
                .sorted { $0.id < $1.id }
        }
        let page = Array(matching.prefix(query.limit))
        let next = matching.count > query.limit ? page.last?.id : nil
        return TenantPage(tenants: page, nextCursor: next)
    }
}
