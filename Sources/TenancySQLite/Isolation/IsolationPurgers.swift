public import Tenancy

/// Removes a tenant's rows from every protected table of a pooled database.
public struct SQLiteProtectedRowsPurger: TenantPurger {
    let tenants: SQLiteTenantDatabase

    public init(_ tenants: SQLiteTenantDatabase) {
        self.tenants = tenants
    }

    public var name: String { "sqlite-protected-rows" }

    public func purge(_ tenantID: TenantID) async throws -> Int {
        let tables = try await tenants.protectedTables()
        return try await tenants.database.write { connection in
            var removed = 0
            for table in tables {
                let base = ProtectedTableSchema.quoted(ProtectedTableNames(view: table).base)
                removed += try connection.execute("DELETE FROM \(base) WHERE tenant_id = ?", [.text(tenantID.rawValue)])
            }
            return removed
        }
    }
}

/// Deletes a tenant's own database file in the database-per-tenant placement.
public struct SQLiteTenantDatabasePurger: TenantPurger {
    let databases: SQLiteDatabasePerTenant

    public init(_ databases: SQLiteDatabasePerTenant) {
        self.databases = databases
    }

    public var name: String { "sqlite-tenant-database" }

    public func purge(_ tenantID: TenantID) async throws -> Int {
        try databases.removeDatabase(of: tenantID)
    }
}
