public import Tenancy

/// Removes a tenant's rows from every protected table, bound as that tenant, so it needs
/// only the application role: the policies confine each `DELETE` to the tenant's rows.
public struct PostgresTenantRowsPurger: TenantPurger {
    let tenants: PostgresTenantDatabase

    public init(_ tenants: PostgresTenantDatabase) {
        self.tenants = tenants
    }

    public var name: String { "postgres-tenant-rows" }

    /// Deletes the tenant's rows from every protected table in one transaction and returns
    /// how many it deleted.
    public func purge(_ tenantID: TenantID) async throws -> Int {
        let tables = try await tenants.rowLevelSecurity.protectedTables(tenants.database)
        let statements = try tables.map { PostgresQuery(unsafeSQL: "DELETE FROM \(try $0.qualified)") }
        return try await tenants.handle(forID: tenantID).transaction { transaction in
            try statements.reduce(0) { removed, statement in removed + (try transaction.execute(statement)) }
        }
    }
}
