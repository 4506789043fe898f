import Foundation
import Tenancy

extension PostgresTenantDatabase {
    /// Checks, as the application role, that row-level security holds for it, and throws
    /// naming the first problem and its fix.
    ///
    /// Rejected: a role that is superuser, has `BYPASSRLS`, owns a tenant table, the library's
    /// schema or a function in it, may create temporary tables in the database, or (verified
    /// binding) can read or change the binding secret. Also rejected: a member of such a role, directly or through other roles, with
    /// or without `INHERIT`, because a member can `SET ROLE` to it. Then a probe binding must verify: the
    /// database must return the probe tenant for a correct binding and, with the verified
    /// binding, nothing for the tenant id without its tag.
    ///
    /// - Throws: ``IsolationError`` with code ``IsolationError/Code/unsafeRole`` or
    ///   ``IsolationError/Code/bindingMismatch``.
    public func checkApplicationRole() async throws {
        _ = try await Self.checkApplicationRole(database: database, binding: binding, rowLevelSecurity: rowLevelSecurity)
    }

    /// Runs ``checkApplicationRole()`` for a database that is not open yet, and returns the
    /// check the database runs.
    static func checkApplicationRole(
        database: PostgresDatabase, binding: PostgresTenantBinding, rowLevelSecurity rls: PostgresRowLevelSecurity
    ) async throws -> PostgresBindingCheck {
        let installed = try await database.query(
            "SELECT pg_catalog.to_regclass($1) IS NOT NULL AS present, current_user::text AS role",
            [.text("\(rls.quotedSchema).rls_tables")])
        let role = try installed.first?.text("role") ?? "?"
        guard try installed.first?.boolean("present") == true else {
            throw IsolationError(
                .bindingMismatch,
                "row-level security is not installed in schema '\(rls.schema)', or role \(role) has no USAGE on it: run PostgresRowLevelSecurity.install(owner:applicationRole:binding:) with the owner role")
        }
        for row in try await database.query(Self.roleChainSQL(rls.quotedSchema), [.text(rls.schema)]) {
            try Self.rejectUnsafe(row, applicationRole: role, verified: binding.isVerified)
        }
        let check = try await installedCheck(database: database, binding: binding, rowLevelSecurity: rls)
        try await checkBindingVerifies(database: database, binding: binding, check: check, rowLevelSecurity: rls, role: role)
        return check
    }

    /// Returns the check `current_tenant()` runs: with the verified binding, the C check when
    /// `current_tenant()` calls `bound_tenant()` and both C functions exist, else PL/pgSQL.
    /// The probe binding then shows whether the database accepts it.
    static func installedCheck(
        database: PostgresDatabase, binding: PostgresTenantBinding, rowLevelSecurity rls: PostgresRowLevelSecurity
    ) async throws -> PostgresBindingCheck {
        guard binding.isVerified else { return .trusted }
        let rows = try await database.query(
            """
            SELECT (\(PostgresRowLevelSecurity.bindingLibraryQuery)) AND EXISTS (
                SELECT FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
                    JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
                WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND p.proname OPERATOR(pg_catalog.=) 'current_tenant' AND p.pronargs OPERATOR(pg_catalog.=) 0
                    AND l.lanname OPERATOR(pg_catalog.=) 'sql' AND pg_catalog.strpos(p.prosrc, '.bound_tenant()') OPERATOR(pg_catalog.>) 0) AS library
            """, [.text(rls.schema)])
        return try rows.first?.boolean("library") == true ? .library : .plpgsql
    }

    /// Returns the query with one row per role the current role is or can become: itself and every role it is a
    /// member of, followed through `pg_auth_members` to any depth.
    static func roleChainSQL(_ quotedSchema: String) -> String {
        """
        WITH RECURSIVE chain(oid, depth) AS (
            SELECT r.oid, 0 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user
            UNION
            SELECT m.roleid, c.depth OPERATOR(pg_catalog.+) 1 FROM pg_catalog.pg_auth_members m JOIN chain c ON m.member OPERATOR(pg_catalog.=) c.oid
            WHERE c.depth OPERATOR(pg_catalog.<) 64
        )
        SELECT r.rolname::text AS role, min(c.depth) AS depth, r.rolsuper AS superuser, r.rolbypassrls AS bypass,
            (SELECT pg_catalog.string_agg(t.schema_name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) t.table_name, ', ' ORDER BY t.schema_name, t.table_name)
             FROM \(quotedSchema).rls_tables t JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) t.schema_name
             JOIN pg_catalog.pg_class k ON k.relnamespace OPERATOR(pg_catalog.=) n.oid AND k.relname OPERATOR(pg_catalog.=) t.table_name
             WHERE k.relowner OPERATOR(pg_catalog.=) r.oid) AS owned_tables,
            EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND n.nspowner OPERATOR(pg_catalog.=) r.oid) AS owns_schema,
            (SELECT pg_catalog.string_agg(p.proname::text, ', ' ORDER BY p.proname) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
             WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND p.proowner OPERATOR(pg_catalog.=) r.oid) AS owned_functions,
            pg_catalog.has_table_privilege(r.oid, \(literal("\(quotedSchema).binding_secret")), 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER') AS reads_secret,
            pg_catalog.has_function_privilege(r.oid, \(literal("\(quotedSchema).binding_inner_key()")), 'EXECUTE') AS reads_key,
            pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'TEMPORARY') AS creates_temporary
        FROM chain c JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) c.oid
        GROUP BY r.oid, r.rolname, r.rolsuper, r.rolbypassrls
        ORDER BY min(c.depth), r.rolname
        """
    }

    private static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// Throws the error for the first rule of the start-up check that the role in `row` breaks.
    static func rejectUnsafe(_ row: PostgresRow, applicationRole: String, verified: Bool) throws {
        if let problem = try unsafeProblems(row, applicationRole: applicationRole, verified: verified).first {
            throw problem
        }
    }

    /// Returns every rule of the start-up check that the role in `row` breaks, in the order
    /// the check applies them, so the verifier can list them all.
    static func unsafeProblems(_ row: PostgresRow, applicationRole: String, verified: Bool) throws -> [IsolationError] {
        let name = try row.text("role")
        let isSelf = try row.integer("depth") == 0
        let subject = isSelf ? "the application role \(name)" : "the application role \(applicationRole) is a member of role \(name), which"
        let membershipFix = isSelf ? "" : " or REVOKE \(name) FROM \(applicationRole)"
        func unsafe(_ problem: String, fix: String) -> IsolationError {
            IsolationError(
                .unsafeRole,
                "row-level security cannot hold: \(subject) \(problem); \(fix)\(membershipFix), or connect the application as a role without it")
        }
        var problems: [IsolationError] = []
        if try row.boolean("superuser") {
            problems.append(unsafe("is superuser, and superusers bypass every policy", fix: "ALTER ROLE \(name) NOSUPERUSER"))
        }
        if try row.boolean("bypass") {
            problems.append(unsafe("has BYPASSRLS", fix: "ALTER ROLE \(name) NOBYPASSRLS"))
        }
        if let tables = try row.optionalText("owned_tables") {
            problems.append(unsafe("owns the tenant tables \(tables), and an owner can disable or drop their policies", fix: "ALTER TABLE ... OWNER TO the owner role"))
        }
        if try row.boolean("owns_schema") {
            problems.append(unsafe("owns the library's schema, so it could replace the binding check", fix: "ALTER SCHEMA ... OWNER TO the owner role"))
        }
        if let functions = try row.optionalText("owned_functions") {
            problems.append(unsafe("owns the library's functions \(functions), so it could replace the binding check", fix: "ALTER FUNCTION ... OWNER TO the owner role"))
        }
        if verified, try row.boolean("reads_secret") || row.boolean("reads_key") {
            problems.append(unsafe(
                "can read or change the binding secret (a grant, pg_read_all_data or pg_write_all_data), so it could sign any tenant's binding",
                fix: "REVOKE the privilege on binding_secret and binding_inner_key()"))
        }
        if try row.boolean("creates_temporary") {
            problems.append(unsafe(
                "may create temporary tables, which outlive a statement on a pooled connection and shadow the tables that the next tenant's SQL names without a schema",
                fix: "REVOKE TEMPORARY ON DATABASE ... FROM PUBLIC and from \(name)"))
        }
        return problems
    }

    /// Binds a probe tenant and checks what `current_tenant()` returns.
    private static func checkBindingVerifies(
        database: PostgresDatabase, binding: PostgresTenantBinding, check: PostgresBindingCheck, rowLevelSecurity: PostgresRowLevelSecurity,
        role: String
    ) async throws {
        let probe = try TenantID(validating: "startup-probe")
        let call = "SELECT \(rowLevelSecurity.quotedSchema).current_tenant() AS tenant"
        // No time limit: the probe must not arm the C check's timer.
        let bindingStatement = PostgresBindingStatement(binding, check: check, quotedSchema: rowLevelSecurity.quotedSchema, timeLimit: nil)
        let bound: String?
        do {
            bound = try await database.pipeline([bindingStatement.statement(tenant: probe), PostgresStatement(call)])[1].rows.first?.optionalText("tenant")
        } catch let error as PostgresError where error.code == .invalidAuthorizationSpecification {
            // bind_tenant rejects a tag that does not verify, saying why.
            throw IsolationError(
                .bindingMismatch,
                "tenant binding check failed for role \(role): \(error.serverMessage ?? "the database rejected the signed binding"); run install(owner:applicationRole:binding:) (the CLI's 'tenancy install') with the configured secret and check the clocks")
        }
        guard bound == probe.rawValue else {
            let reason: String
            switch binding {
            case .verified:
                reason = "the database did not accept the signed binding: the stored secret differs from the configured one, the database has the trusted check, or this machine's clock is more than a minute off the server's; run install(owner:applicationRole:binding:) (the CLI's 'tenancy install') with the configured secret and check the clocks"
            case .trusted:
                reason = "the database did not accept a plain binding, because it has the verified check installed; use the verified binding with the installed secret"
            }
            throw IsolationError(.bindingMismatch, "tenant binding check failed for role \(role): \(reason)")
        }
        guard binding.isVerified else { return }
        let unsigned = PostgresStatement(
            "SELECT pg_catalog.set_config('tenancy.tenant_id', $1, true), pg_catalog.set_config('tenancy.tag', '', true)", [.text(probe.rawValue)])
        let forged = try await database.pipeline([unsigned, PostgresStatement(call)])[1].rows.first?.optionalText("tenant")
        guard forged == nil else {
            throw IsolationError(
                .bindingMismatch,
                "tenant binding check failed for role \(role): the database accepts a tenant id without its tag, so it has the trusted check installed; run install(owner:applicationRole:binding:) with .verified")
        }
    }
}

extension PostgresTenantBinding {
    var isVerified: Bool {
        if case .verified = self { return true }
        return false
    }
}
