/// Which tenants to list.
public struct TenantQuery: Hashable, Sendable {
    public var status: TenantStatus?
    public var tier: TenantTier?
    /// Only tenants whose id sorts after this one, for paging; nil starts at the first.
    public var after: TenantID?
    /// The maximum number of tenants in one page, 1 to 1,000.
    public var limit: Int

    public init(status: TenantStatus? = nil, tier: TenantTier? = nil, after: TenantID? = nil, limit: Int = 100) {
        self.status = status
        self.tier = tier
        self.after = after
        self.limit = limit
    }
}

/// A page of tenants ordered by id.
public struct TenantPage: Hashable, Sendable {
    public var tenants: [Tenant]
    /// The cursor for the next page, or nil when this page is the last.
    public var nextCursor: TenantID?

    public init(tenants: [Tenant], nextCursor: TenantID?) {
        self.tenants = tenants
        self.nextCursor = nextCursor
    }
}

/// Storage for the tenant registry.
///
/// Implementations make ``insert(_:)`` and ``update(_:_:)`` atomic against every other writer,
/// in this process and others sharing the store.
public protocol TenantStore: Sendable {
    /// Stores a new tenant.
    ///
    /// - Throws: ``TenantAlreadyExistsError`` when the id is taken; nothing is changed then.
    func insert(_ tenant: Tenant) async throws

    /// Returns the tenant with this id, or nil.
    func tenant(_ id: TenantID) async throws -> Tenant?

    /// Reads the tenant, applies `change` and stores the result in one atomic step, returning
    /// the tenant before and after.
    ///
    /// When `change` throws, nothing is stored and the error propagates. `change` must not
    /// alter the id.
    ///
    /// - Throws: ``TenantNotFoundError`` when no tenant has this id.
    @discardableResult
    func update(_ id: TenantID, _ change: @Sendable (Tenant) throws -> Tenant) async throws -> (before: Tenant, after: Tenant)

    /// Returns one page of tenants ordered by id.
    func list(_ query: TenantQuery) async throws -> TenantPage
}

extension TenantQuery {
    /// Checks the page size.
    package func validate() throws {
        guard (1...1_000).contains(limit) else {
            throw ValidationError(
                .invalidArgument, field: "limit", message: "invalid page size \(limit): expected 1 to 1,000")
        }
    }
}
