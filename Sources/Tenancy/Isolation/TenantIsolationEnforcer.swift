/// What a tenant-scoped closure gets: the tenant and a database handle bound to it.
public struct TenantScope<Database: Sendable>: Sendable {
    /// The tenant every statement through ``database`` runs as.
    public let tenant: Tenant
    /// A handle bound to ``tenant``.
    public let database: Database

    /// The id of ``tenant``.
    public var tenantID: TenantID { tenant.id }
}

/// Runs data access for the tenant in scope, through a database handle bound to that tenant.
///
/// ```swift
/// let enforcer = try TenantIsolationEnforcer(isolation, database: db)
/// let rows = try await enforcer.requireTenantScope { scope in
///     try await scope.database.query("SELECT * FROM debates")
/// }
/// ```
public struct TenantIsolationEnforcer<Provider: TenantDatabaseProvider>: Sendable {
    /// The options this enforcer was checked against.
    public let isolation: TenantDataIsolation
    /// The database handles come from.
    public let database: Provider
    /// The per-tenant file roots, when file isolation is on.
    public let files: TenantFileStorage?

    /// Checks that `database` can honour `isolation` and creates the enforcer.
    ///
    /// - Throws: ``IsolationError`` with code ``IsolationError/Code/unavailable`` when
    ///   row-level security is off on a pooled placement, when the database does not enforce
    ///   it, when file isolation is asked without a file root, or when separate encryption keys
    ///   are asked (not available yet).
    public init(_ isolation: TenantDataIsolation, database: Provider, files: TenantFileStorage? = nil) throws {
        if isolation.separateEncryptionKeys {
            throw IsolationError(
                .unavailable,
                "separateEncryptionKeys is not available: the encryption module is not part of this release; pass separateEncryptionKeys: false")
        }
        if !isolation.enforceRowLevelSecurity && database.placement == .pool {
            throw IsolationError(
                .unavailable,
                "enforceRowLevelSecurity: false is only allowed with a database-per-tenant placement, where separate databases isolate tenants")
        }
        if isolation.enforceRowLevelSecurity && database.placement == .pool && !database.enforcesRowLevelSecurity {
            throw IsolationError(.unavailable, "the database does not enforce row-level security for its pooled tables")
        }
        if isolation.isolateFileStorage && files == nil {
            throw IsolationError(.unavailable, "isolateFileStorage: true needs a TenantFileStorage; pass files: TenantFileStorage(root:)")
        }
        self.isolation = isolation
        self.database = database
        self.files = files
    }

    /// Runs `body` with a handle bound to the tenant in scope.
    ///
    /// - Throws: ``NoTenantInScopeError`` when no tenant is bound (the platform scope included),
    ///   and whatever `body` throws.
    public func requireTenantScope<Result>(
        isolation actor: isolated (any Actor)? = #isolation,
        _ body: (TenantScope<Provider.Handle>) async throws -> Result
    ) async throws -> Result {
        let tenant = try requireCurrentTenant(operation: "requireTenantScope")
        let handle = try await database.handle(for: tenant)
        return try await body(TenantScope(tenant: tenant, database: handle))
    }
}
