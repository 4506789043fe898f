public import Tenancy

extension PostgresDatabasePerTenant {
    /// Drops the tenant's database and role and deletes its stored placement. Returns how
    /// many of the three existed and were removed, 0 when the tenant has no placement.
    ///
    /// It acts only on the names in the stored placement, so it never drops a role or database
    /// that ``place(_:)`` did not create, and it deletes the placement last, so a run that
    /// stopped midway finishes on the next. It closes the cached pool, terminates every
    /// session in the database or of the role, then drops with `WITH (FORCE)`, which also
    /// ends sessions that connect in between (PostgreSQL 13 and later).
    ///
    /// NOTE: `DROP ROLE` fails with SQLSTATE 2BP01 when the role owns objects or holds
    /// privileges in another database, which it can only have where `PUBLIC` may connect and
    /// create.
    @discardableResult
    public func dropDatabase(of tenantID: TenantID) async throws -> Int {
        let admin = try requireAdmin(operation: "drop tenant database")
        await closePool(of: tenantID)
        guard let settings = try await connectionSettings(of: tenantID) else { return 0 }
        let database = try PostgresIdentifier.quoted(settings.database)
        let role = try PostgresIdentifier.quoted(settings.role)

        _ = try await admin.query(
            """
            SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
            WHERE (datname = $1 OR usename = $2) AND pid <> pg_catalog.pg_backend_pid()
            """, [.text(settings.database), .text(settings.role)])

        var removed = 0
        let databaseExists = try await admin.query("SELECT FROM pg_catalog.pg_database WHERE datname = $1", [.text(settings.database)])
        if !databaseExists.isEmpty {
            // DROP DATABASE cannot run inside a transaction block, so it runs on its own.
            try await admin.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
            removed += 1
        }
        let roleExists = try await admin.query("SELECT FROM pg_catalog.pg_roles WHERE rolname = $1", [.text(settings.role)])
        if !roleExists.isEmpty {
            try await admin.execute("DROP ROLE IF EXISTS \(role)")
            removed += 1
        }
        removed += try await PostgresTenantDatabaseRegistry.delete(tenantID, in: schema, owner: owner)
        return removed
    }
}

/// Drops a tenant's own database and role during deletion with purge, in the
/// database-per-tenant placement. Needs the placement's admin pool.
public struct PostgresTenantDatabasePurger: TenantPurger {
    let databases: PostgresDatabasePerTenant

    public init(_ databases: PostgresDatabasePerTenant) {
        self.databases = databases
    }

    public var name: String { "postgres-tenant-database" }

    public func purge(_ tenantID: TenantID) async throws -> Int {
        try await databases.dropDatabase(of: tenantID)
    }
}
