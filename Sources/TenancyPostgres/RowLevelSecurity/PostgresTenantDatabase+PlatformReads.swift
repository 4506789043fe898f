import Tenancy

extension PostgresTenantDatabase {
    /// Runs one statement read-only as the maintenance role, which bypasses row-level
    /// security, and returns its rows from every tenant.
    ///
    /// For operator reports and other reads across tenants. It runs only inside
    /// `manager.withPlatformScope(reason:)`, which writes the audit record with the reason.
    /// Work on one tenant's rows binds that tenant through ``handle(for:)`` instead and needs
    /// no maintenance role.
    ///
    /// The statement runs in an explicit transaction, made read-only by a statement that
    /// takes the transaction's snapshot first. So a write fails (SQLSTATE 25006), and the
    /// statement cannot make the transaction read-write again (25001). The pipeline's implicit
    /// transaction would not do: there, `DO $$ BEGIN COMMIT; INSERT ... END $$` commits the
    /// read-only transaction and writes in a new one (seen on PostgreSQL 15.18), while inside
    /// an explicit transaction that `COMMIT` fails (2D000). The transaction ends with
    /// `ROLLBACK`, because some writes pass the read-only check: PostgreSQL 15.18 lets
    /// `lo_from_bytea` create a large object in a read-only transaction.
    ///
    /// Afterwards, also when it failed, `DISCARD ALL` undoes what the statement left on the
    /// pooled session (settings such as `search_path`, advisory locks, held cursors, `LISTEN`),
    /// so it cannot change the results of later platform reads. The cost is four round trips:
    /// `BEGIN`, one pipeline with the setting and the statement, `ROLLBACK` and `DISCARD ALL`.
    ///
    /// - Throws: ``IsolationError`` with code ``IsolationError/Code/denied`` outside the
    ///   platform scope, inside a tenant scope too. ``IsolationError`` with code
    ///   ``IsolationError/Code/unavailable`` when the tenant database was opened without a
    ///   maintenance pool. ``PostgresError`` when the statement fails.
    public func platformQuery(_ query: PostgresQuery) async throws -> [PostgresRow] {
        guard TenantContext.isPlatformScope else {
            throw IsolationError(
                .denied, "platformQuery(_:) reads the rows of every tenant: run it inside manager.withPlatformScope(reason:), which records the reason in the audit trail")
        }
        guard let maintenance else {
            throw IsolationError(
                .unavailable,
                "platformQuery(_:) needs a pool for the maintenance role, a role with BYPASSRLS, because FORCE ROW LEVEL SECURITY shows every other role no rows "
                    + "without a tenant: pass maintenance: to PostgresTenantDatabase; in the tenancy CLI, pass --maintenance-database URL or set \(Self.maintenanceVariable)")
        }
        let statement = query.statement
        return try await maintenance.withConnection { connection in
            defer { connection.discardSessionState() }
            try connection.execute("BEGIN")
            defer { connection.rollBackQuietly() }
            return try connection.pipeline([Self.readOnlyStatement, statement])[1].rows
        }
    }

    /// The environment variable the `tenancy` CLI reads the maintenance role's URL from.
    static let maintenanceVariable = "TENANCY_MAINTENANCE_DATABASE_URL"

    /// Makes the transaction read-only. A `SELECT`, unlike `SET TRANSACTION`, takes the
    /// transaction's snapshot, after which PostgreSQL rejects a switch back to read-write.
    static let readOnlyStatement = PostgresStatement("SELECT pg_catalog.set_config('transaction_read_only', 'on', true)")

    /// Checks the maintenance role and throws naming the first problem and its fix.
    ///
    /// Rejected: a role without `BYPASSRLS`, which sees no rows of a table with `FORCE ROW
    /// LEVEL SECURITY` (the owner and the application role are such roles). Also rejected: a
    /// role that is superuser or may insert, update, delete, truncate or add triggers to a
    /// protected table, and a member of such a role at any depth, because a member can `SET
    /// ROLE` to it. And a pool connected to another database than the application pool's.
    ///
    /// The check runs once, when the tenant database opens, on the tables protected then.
    /// Every platform read runs read-only whatever the grants, so a later grant still cannot
    /// make it write.
    ///
    /// - Throws: ``IsolationError`` with code ``IsolationError/Code/invalidMaintenanceRole``.
    func checkMaintenanceRole(_ maintenance: PostgresDatabase) async throws {
        let identity = try await maintenance.query("SELECT current_user::text AS role, pg_catalog.current_database()::text AS database")
        let role = try identity[0].text("role")
        let maintenanceDatabase = try identity[0].text("database")
        let application = try await database.query("SELECT pg_catalog.current_database()::text AS database, current_user::text AS role")[0]
        let applicationDatabase = try application.text("database")
        let applicationRole = try application.text("role")
        // BYPASSRLS on the application role would switch off isolation for every tenant, so
        // the usual fix for a role without it must not be offered here.
        guard role != applicationRole else {
            throw IsolationError(
                .invalidMaintenanceRole,
                "platform-wide reads need a maintenance role of their own: \(role) is the application role, which must never have BYPASSRLS; "
                    + "connect as a separate role with BYPASSRLS and NOSUPERUSER, such as the one installRoles(admin:database:roles:) or 'tenancy roles-sql --maintenance-database' creates")
        }
        guard maintenanceDatabase == applicationDatabase else {
            throw IsolationError(
                .invalidMaintenanceRole,
                "platform-wide reads need the maintenance role in the application's database: role \(role) is connected to database \(maintenanceDatabase), "
                    + "but the application role to \(applicationDatabase); connect the maintenance pool to \(applicationDatabase)")
        }

        // The application role runs the catalog query: it can read the table list, which the
        // maintenance role may not, and any role can read another role's privileges.
        let chain = try await database.query(Self.maintenanceRoleChainSQL(rowLevelSecurity.quotedSchema), [.text(role)])
        guard !chain.isEmpty else {
            throw IsolationError(.invalidMaintenanceRole, "platform-wide reads need the maintenance role: role \(role) was not found in pg_roles")
        }
        for row in chain {
            try Self.rejectUnusableMaintenance(row, maintenanceRole: role)
        }
    }

    /// Returns the query with one row per role the maintenance role `$1` is or can become,
    /// with the protected tables each may change.
    static func maintenanceRoleChainSQL(_ quotedSchema: String) -> String {
        """
        WITH RECURSIVE chain(oid, depth) AS (
            SELECT r.oid, 0 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) $1
            UNION
            SELECT m.roleid, c.depth OPERATOR(pg_catalog.+) 1 FROM pg_catalog.pg_auth_members m JOIN chain c ON m.member OPERATOR(pg_catalog.=) c.oid
            WHERE c.depth OPERATOR(pg_catalog.<) 64
        )
        SELECT r.rolname::text AS role, min(c.depth) AS depth, r.rolsuper AS superuser, r.rolbypassrls AS bypass,
            (SELECT pg_catalog.string_agg(t.schema_name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) t.table_name, ', ' ORDER BY t.schema_name, t.table_name)
             FROM \(quotedSchema).rls_tables t JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) t.schema_name
             JOIN pg_catalog.pg_class k ON k.relnamespace OPERATOR(pg_catalog.=) n.oid AND k.relname OPERATOR(pg_catalog.=) t.table_name
             WHERE pg_catalog.has_table_privilege(r.oid, k.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER')) AS writable_tables
        FROM chain c JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) c.oid
        GROUP BY r.oid, r.rolname, r.rolsuper, r.rolbypassrls
        ORDER BY min(c.depth), r.rolname
        """
    }

    static func rejectUnusableMaintenance(_ row: PostgresRow, maintenanceRole: String) throws {
        let name = try row.text("role")
        let isSelf = try row.integer("depth") == 0
        let subject = isSelf ? "the maintenance role \(name)" : "the maintenance role \(maintenanceRole) is a member of role \(name), which"
        let membershipFix = isSelf ? "" : " or REVOKE \(name) FROM \(maintenanceRole)"
        func unusable(_ problem: String, fix: String) -> IsolationError {
            IsolationError(.invalidMaintenanceRole, "platform-wide reads need a read-only role with BYPASSRLS: \(subject) \(problem); \(fix)\(membershipFix)")
        }
        if try row.boolean("superuser") {
            throw unusable("is superuser, so it could change any row", fix: "connect as a role with BYPASSRLS and NOSUPERUSER, such as the maintenance role that installRoles(admin:database:roles:) creates")
        }
        if try isSelf && !row.boolean("bypass") {
            throw unusable(
                "has no BYPASSRLS, so FORCE ROW LEVEL SECURITY shows it no tenant rows",
                fix: "ALTER ROLE \(name) BYPASSRLS as a superuser, or connect as the maintenance role that installRoles(admin:database:roles:) creates")
        }
        if let tables = try row.optionalText("writable_tables") {
            throw unusable(
                "may insert, update, delete, truncate or add triggers to the tenant tables \(tables)",
                fix: "REVOKE INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER ON those tables FROM \(name)")
        }
    }
}
