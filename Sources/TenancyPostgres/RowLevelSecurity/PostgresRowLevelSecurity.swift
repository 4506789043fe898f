import Foundation
import Tenancy

/// Row-level security for pooled tenant tables: the roles, the binding check the policies
/// call, and the policies themselves.
///
/// Installing takes three steps, each with its own role:
/// 1. ``superuserSQL(database:roles:)`` (or ``installRoles(admin:database:roles:)``) creates
///    the roles and the schema, once, as a superuser or by a DBA.
/// 2. ``install(owner:applicationRole:binding:)`` creates, as the owner role, the secret table,
///    the list of tenant tables and the function `current_tenant()` that every policy calls.
/// 3. ``protect(table:schema:owner:applicationRole:maintenanceRole:)`` enables and forces
///    row-level security on one table and creates its policy.
///
/// Each policy compares `tenant_id` with `(SELECT <schema>.current_tenant())`. The sub-select
/// makes the call an init plan, evaluated once per statement rather than once per row. With
/// the verified binding, `current_tenant()` returns the bound tenant only when the tag the
/// library sets with it is an HMAC-SHA256 of the tenant and a minute within one of the
/// server's clock, under the secret; otherwise NULL, so the statement sees no rows and every
/// write fails the `WITH CHECK` clause.
public struct PostgresRowLevelSecurity: Sendable {
    static let component = "row-level-security"
    /// The policy name on every tenant table.
    public static let policyName = "tenancy_isolation"

    /// The schema of the library's objects, `tenancy` by default (shared with the registry).
    public let schema: String
    let quotedSchema: String

    public init(schema: String) throws {
        self.schema = schema
        self.quotedSchema = try PostgresIdentifier.quoted(schema)
    }

    private init(schema: String, quotedSchema: String) {
        self.schema = schema
        self.quotedSchema = quotedSchema
    }

    /// The library's objects in the schema `tenancy`.
    public static let standard = PostgresRowLevelSecurity(schema: "tenancy", quotedSchema: "\"tenancy\"")

    /// The roles of a deployment.
    public struct Roles: Sendable {
        /// Owns the tenant tables and the library's schema; runs migrations and ``protect(table:schema:owner:applicationRole:maintenanceRole:)``.
        public var owner: String
        /// The role the application connects as: not an owner, not superuser, no `BYPASSRLS`.
        public var application: String
        /// The optional `BYPASSRLS` role for platform-wide reads.
        public var maintenance: String?

        public init(owner: String, application: String, maintenance: String? = nil) {
            self.owner = owner
            self.application = application
            self.maintenance = maintenance
        }
    }

    // MARK: - Step 1: roles and schema (superuser)

    /// Returns the SQL a superuser runs once in `database`: it creates the missing roles (with
    /// `LOGIN` and no password, so the DBA sets passwords with `ALTER ROLE ... PASSWORD`),
    /// removes superuser and `BYPASSRLS` from the owner and application roles, revokes
    /// `TEMPORARY` on the database from `PUBLIC` and the application role, and creates the
    /// library's schema owned by the owner role. It also revokes from `PUBLIC` the session's
    /// prepared statements (`pg_prepared_statements`), other sessions' SQL (`pg_stat_activity`),
    /// `pg_terminate_backend`, `pg_cancel_backend` and the creation of large objects. Running it
    /// again changes nothing else.
    public func superuserSQL(database: String, roles: Roles) throws -> String {
        let owner = try PostgresIdentifier.quoted(roles.owner)
        let application = try PostgresIdentifier.quoted(roles.application)
        let quotedDatabase = try PostgresIdentifier.quoted(database)
        var lines = [
            Self.createRoleSQL(roles.owner, attributes: "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE"),
            "ALTER ROLE \(owner) NOSUPERUSER NOBYPASSRLS;",
            Self.createRoleSQL(roles.application, attributes: "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB"),
            "ALTER ROLE \(application) NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB;",
            "GRANT CONNECT, CREATE ON DATABASE \(quotedDatabase) TO \(owner);",
            "GRANT CONNECT ON DATABASE \(quotedDatabase) TO \(application);",
            // A temporary table lasts as long as the session and comes first in its
            // search_path, so on a pooled connection one tenant's temporary table would
            // catch the next tenant's statements that name a table without its schema.
            "REVOKE TEMPORARY ON DATABASE \(quotedDatabase) FROM PUBLIC;",
            "REVOKE TEMPORARY ON DATABASE \(quotedDatabase) FROM \(application);",
            // PostgreSQL 15 no longer lets every role create objects in `public`; older
            // databases did, and the application role must not create functions or operators
            // anywhere.
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
            // With the names of the session's prepared statements hidden, each connection
            // can prepare statements under random names: SQL that cannot name a statement
            // cannot replace it (see PostgresConfiguration.preparedStatementCacheSize).
            "REVOKE SELECT ON pg_catalog.pg_prepared_statements FROM PUBLIC;",
            "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_prepared_statement() FROM PUBLIC;",
            // Every tenant's SQL runs as the one application role, and PostgreSQL shows a
            // role its own sessions' SQL text, literals included, and lets it end them. So
            // tenant A could read B's running statements and cancel or end B's backend.
            "REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC;",
            "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer) FROM PUBLIC;",
            "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_backend_activity(integer) FROM PUBLIC;",
            "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_terminate_backend(integer, bigint) FROM PUBLIC;",
            "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) FROM PUBLIC;",
            // Large objects have no tenant_id and no row-level security, and all of the
            // application role's are readable by every tenant's SQL.
            "REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer), pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC;",
            "CREATE SCHEMA IF NOT EXISTS \(quotedSchema) AUTHORIZATION \(owner);",
            "ALTER SCHEMA \(quotedSchema) OWNER TO \(owner);",
            // The first `tenancy create` looks for the registry as the application role before
            // the owner installs it, and looking into a schema takes USAGE.
            "GRANT USAGE ON SCHEMA \(quotedSchema) TO \(application);",
            libraryFunctionsSQL(owner: owner),
        ]
        if let maintenanceName = roles.maintenance {
            let maintenance = try PostgresIdentifier.quoted(maintenanceName)
            lines += [
                Self.createRoleSQL(maintenanceName, attributes: "LOGIN BYPASSRLS NOSUPERUSER NOCREATEROLE NOCREATEDB"),
                "ALTER ROLE \(maintenance) BYPASSRLS;",
                "GRANT CONNECT ON DATABASE \(quotedDatabase) TO \(maintenance);",
                "GRANT USAGE ON SCHEMA \(quotedSchema) TO \(maintenance);",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The file name of the C library with the fast verified binding check, which
    /// `postgres-extension/` builds and installs into the server's `pg_config --pkglibdir`.
    public static let bindingLibrary = "tenancy_binding"

    /// Returns the SQL a superuser runs to create the library's schema for `owner` when it is
    /// missing, and in it the C binding functions `bind_tenant(text, text, int8)` and
    /// `bound_tenant()`, owned by `owner`, when the server has the ``bindingLibrary`` file.
    /// Without the file it creates only the schema and raises a notice, and the verified
    /// binding uses its PL/pgSQL check. ``superuserSQL(database:roles:)`` includes it. Run
    /// ``install(owner:applicationRole:binding:)`` afterwards, which makes `current_tenant()`
    /// use the functions it finds.
    ///
    /// `bind_tenant` checks the tag once per statement and keeps the tenant in the backend's
    /// memory, where no setting can change it, for the rest of the transaction. The end of the
    /// transaction then resets the session (see ``PostgresTenantDatabase``). It is `SECURITY DEFINER`
    /// so it can read the secret, and owned by the owner role rather than the superuser, so it
    /// reads with the owner's rights.
    ///
    /// With `applicationRole`, it also grants that role `USAGE` on the schema, which the first
    /// `tenancy create` needs to look for the registry before the owner installs it.
    public func bindingLibrarySQL(owner: String, applicationRole: String? = nil) throws -> String {
        let owner = try PostgresIdentifier.quoted(owner)
        var sql = "CREATE SCHEMA IF NOT EXISTS \(quotedSchema) AUTHORIZATION \(owner);\n"
        if let applicationRole {
            sql += "GRANT USAGE ON SCHEMA \(quotedSchema) TO \(try PostgresIdentifier.quoted(applicationRole));\n"
        }
        return sql + libraryFunctionsSQL(owner: owner)
    }

    /// Returns the part of ``bindingLibrarySQL(owner:applicationRole:)`` after the schema, for the quoted owner role.
    private func libraryFunctionsSQL(owner: String) -> String {
        let s = quotedSchema
        let library = "$libdir/\(Self.bindingLibrary)"
        return """
            DO $tenancy$ BEGIN
                IF pg_catalog.to_regprocedure('\(s).bind_tenant(pg_catalog.text, pg_catalog.text)') IS NOT NULL THEN
                    DROP FUNCTION \(s).bind_tenant(pg_catalog.text, pg_catalog.text);
                END IF;
                CREATE OR REPLACE FUNCTION \(s).bind_tenant(tenant pg_catalog.text, tag pg_catalog.text, ends_after_milliseconds pg_catalog.int8 DEFAULT 0)
                    RETURNS void LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER AS '\(library)', 'tenancy_bind_tenant';
                CREATE OR REPLACE FUNCTION \(s).bound_tenant() RETURNS pg_catalog.text
                    LANGUAGE c STABLE PARALLEL RESTRICTED AS '\(library)', 'tenancy_bound_tenant';
                ALTER FUNCTION \(s).bind_tenant(pg_catalog.text, pg_catalog.text, pg_catalog.int8) OWNER TO \(owner);
                ALTER FUNCTION \(s).bound_tenant() OWNER TO \(owner);
                REVOKE ALL ON FUNCTION \(s).bind_tenant(pg_catalog.text, pg_catalog.text, pg_catalog.int8), \(s).bound_tenant() FROM PUBLIC;
            EXCEPTION WHEN undefined_file THEN
                RAISE NOTICE 'the server has no \(Self.bindingLibrary) library, so the verified binding will use its PL/pgSQL check; install it with make -C postgres-extension install';
            END $tenancy$;
            """
    }

    /// Runs ``bindingLibrarySQL(owner:applicationRole:)`` with a superuser's pool.
    public func installBindingLibrary(admin: PostgresDatabase, owner: String, applicationRole: String? = nil) async throws {
        let sql = try bindingLibrarySQL(owner: owner, applicationRole: applicationRole)
        try await admin.installerTransaction { connection in
            try connection.executeScript(sql)
        }
    }

    /// Runs ``superuserSQL(database:roles:)`` with a superuser's pool connected to `database`.
    public func installRoles(admin: PostgresDatabase, database: String, roles: Roles) async throws {
        let sql = try superuserSQL(database: database, roles: roles)
        try await admin.installerTransaction { connection in
            try connection.executeScript(sql)
        }
    }

    static func createRoleSQL(_ role: String, attributes: String) -> String {
        // The name goes in as a string literal for the lookup and as an identifier (through
        // format's %I) for the statement; PostgresIdentifier.quoted has already rejected NUL.
        let literal = "'" + role.replacingOccurrences(of: "'", with: "''") + "'"
        return """
            DO $tenancy$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = \(literal)) THEN
                    EXECUTE pg_catalog.format('CREATE ROLE %I \(attributes)', \(literal));
                END IF;
            END $tenancy$;
            """
    }

    // MARK: - Step 2: secret, table list and binding check (owner)

    static let migrations: [PostgresMigration] = [
        PostgresMigration(version: 1, name: "create binding secret and tenant table list", sql: """
            CREATE TABLE binding_secret (
                only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                key bytea NOT NULL,
                inner_key bytea NOT NULL,
                outer_key bytea NOT NULL,
                stored_at timestamptz NOT NULL DEFAULT now()
            );
            REVOKE ALL ON binding_secret FROM PUBLIC;
            CREATE TABLE rls_tables (
                schema_name text NOT NULL,
                table_name text NOT NULL,
                protected_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (schema_name, table_name)
            );
            """),
    ]

    /// Creates the secret table, the tenant table list and the binding check, as the owner
    /// role, and grants `applicationRole` what tenant statements need. Safe to run again.
    ///
    /// With ``PostgresTenantBinding/verified(_:)`` it stores the secret, replacing any earlier
    /// one, and recreates `current_tenant()`, which makes every session drop its cached copy
    /// of the key (see ``verifiedFunctionSQL``): running it with a new secret rotates the key.
    /// Tags signed with the old key stop verifying at once, so deploy the new secret to the
    /// application first or accept a moment of empty results. With
    /// ``PostgresTenantBinding/trusted`` it deletes any stored secret.
    public func install(owner: PostgresDatabase, applicationRole: String, binding: PostgresTenantBinding) async throws {
        try await owner.migrate(component: Self.component, schema: schema, Self.migrations)
        let application = try PostgresIdentifier.quoted(applicationRole)
        try await owner.installerTransaction { [quotedSchema, schema] connection in
            let hasLibrary = try connection.query(Self.bindingLibraryQuery, [.text(schema)]).first?.boolean("present") == true
            let functionSQL: String
            switch binding {
            case .verified: functionSQL = hasLibrary ? libraryFunctionSQL : verifiedFunctionSQL
            case .trusted: functionSQL = trustedFunctionSQL
            }
            switch binding {
            case .verified(let secret):
                try connection.execute(
                    """
                    INSERT INTO \(quotedSchema).binding_secret (only_row, key, inner_key, outer_key) VALUES (true, $1, $2, $3)
                    ON CONFLICT (only_row) DO UPDATE SET key = excluded.key, inner_key = excluded.inner_key,
                        outer_key = excluded.outer_key, stored_at = now()
                    """,
                    [.bytes(secret.bytes), .bytes(secret.paddedKey(0x36)), .bytes(secret.paddedKey(0x5c))])
            case .trusted:
                try connection.execute("DELETE FROM \(quotedSchema).binding_secret")
            }
            try connection.executeScript(functionSQL)
            try connection.executeScript("""
                REVOKE ALL ON \(quotedSchema).binding_secret FROM PUBLIC;
                REVOKE ALL ON FUNCTION \(quotedSchema).binding_inner_key() FROM PUBLIC;
                REVOKE ALL ON FUNCTION \(quotedSchema).binding_outer_key() FROM PUBLIC;
                REVOKE ALL ON FUNCTION \(quotedSchema).current_tenant() FROM PUBLIC;
                GRANT USAGE ON SCHEMA \(quotedSchema) TO \(application);
                GRANT EXECUTE ON FUNCTION \(quotedSchema).current_tenant() TO \(application);
                GRANT SELECT ON \(quotedSchema).rls_tables TO \(application);
                GRANT SELECT ON \(quotedSchema).tenancy_migrations TO \(application);
                """)
            if hasLibrary, binding.isVerified {
                try connection.executeScript(
                    "GRANT EXECUTE ON FUNCTION \(quotedSchema).bind_tenant(pg_catalog.text, pg_catalog.text, pg_catalog.int8), \(quotedSchema).bound_tenant() TO \(application)")
            }
        }
    }

    /// Whether the schema `$1` has `bind_tenant` and `bound_tenant` in C, as
    /// ``bindingLibrarySQL(owner:applicationRole:)`` creates them.
    static let bindingLibraryQuery = """
        SELECT pg_catalog.count(*) OPERATOR(pg_catalog.=) 2 AS present
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
            JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
        WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND l.lanname OPERATOR(pg_catalog.=) 'c'
            AND ((p.proname OPERATOR(pg_catalog.=) 'bind_tenant' AND p.pronargs OPERATOR(pg_catalog.=) 3)
                OR (p.proname OPERATOR(pg_catalog.=) 'bound_tenant' AND p.pronargs OPERATOR(pg_catalog.=) 0))
        """

    /// The two functions that read the key for the PL/pgSQL check, `binding_inner_key()` and
    /// `binding_outer_key()`. Every mode creates them, so the grants are the same in all modes.
    var keyFunctionsSQL: String {
        let s = quotedSchema
        return """
            CREATE OR REPLACE FUNCTION \(s).binding_inner_key() RETURNS pg_catalog.bytea
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $tenancy$ SELECT k.inner_key FROM \(s).binding_secret AS k $tenancy$;
            CREATE OR REPLACE FUNCTION \(s).binding_outer_key() RETURNS pg_catalog.bytea
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $tenancy$ SELECT k.outer_key FROM \(s).binding_secret AS k $tenancy$;
            """
    }

    /// The verified binding check with the C library: `current_tenant()` returns what
    /// `bind_tenant` bound in this transaction. An SQL function without `SECURITY DEFINER`,
    /// so the planner inlines it and each statement makes one C call. `PARALLEL RESTRICTED`,
    /// because the tenant lives in the leader backend's memory, which parallel workers do not
    /// share. The key functions stay, as in the other modes, so the grants are the same.
    var libraryFunctionSQL: String {
        let s = quotedSchema
        return """
            \(keyFunctionsSQL)
            CREATE OR REPLACE FUNCTION \(s).current_tenant() RETURNS pg_catalog.text
                LANGUAGE sql STABLE SECURITY INVOKER PARALLEL RESTRICTED
                AS $tenancy$ SELECT \(s).bound_tenant() $tenancy$;
            """
    }

    /// The verified binding check.
    ///
    /// Cost on PostgreSQL 15.18, 2 cores shared with other work (so rough): a PL/pgSQL
    /// procedure running 20,000 transactions, each binding a tenant and calling the check
    /// once, took about 11 microseconds a transaction, against about 4 with `current_setting`
    /// alone and about 14 for the same check reading the key with a query on each call and
    /// using pgcrypto's `hmac()`. Within one statement a call costs 3 to 4.6 microseconds
    /// (`EXPLAIN ANALYZE SELECT count(current_tenant()) FROM generate_series(1, 100000)`).
    /// Three choices make it cheap:
    /// - The key is read by `binding_inner_key()` and `binding_outer_key()`, SQL functions
    ///   marked `IMMUTABLE` although they read a table. The planner folds them into constants
    ///   when it plans the PL/pgSQL expression, once per session, so no call runs a query.
    ///   PL/pgSQL recompiles a function whose catalog row changed, so recreating
    ///   `current_tenant()` (which ``install(owner:applicationRole:binding:)`` does) makes
    ///   every session read the key again. Only the owner may execute the two functions.
    /// - HMAC-SHA256 is built from the server's `sha256()` over the key XOR-ed with the inner
    ///   and outer pads (RFC 2104), so no extension is needed; it costs about the same as
    ///   pgcrypto's `hmac()` (2.2 against 2.1 microseconds, same measurement).
    /// - There is no `SET search_path` clause, which makes every call open and close a
    ///   configuration nesting level. Instead every function, operator, type and table in the
    ///   body is schema-qualified, so a caller's `search_path` cannot substitute its own.
    ///
    /// The nested `CASE` fixes the order: shape first, then the code, then the minute, which
    /// is only parsed as a number once the code proves the library wrote it. The shape check
    /// includes `tenancy.bound_at`, which the binding statement sets to `now()`: settings that
    /// tenant SQL copies into the session bind no later transaction, whose `now()` differs.
    ///
    /// `SET debug_print_plan = off` is the one configuration the function sets. The folded
    /// keys are constants in the plans of its expressions, and any role may turn that setting
    /// on (with `client_min_messages = log`) and force a new plan with `DISCARD PLANS`, which
    /// would print the keys to the client and the server log. The clause applies while the
    /// function runs, which is when PL/pgSQL plans those expressions, and costs a
    /// configuration nesting level per call, once per statement.
    var verifiedFunctionSQL: String {
        let s = quotedSchema
        return """
            \(keyFunctionsSQL)
            CREATE OR REPLACE FUNCTION \(s).current_tenant() RETURNS pg_catalog.text
                LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
                SET debug_print_plan = off
                AS $tenancy$
            DECLARE
                tenant pg_catalog.text := pg_catalog.current_setting('tenancy.tenant_id', true);
                tag pg_catalog.text := pg_catalog.current_setting('tenancy.tag', true);
            BEGIN
                RETURN CASE WHEN pg_catalog.length(tag) OPERATOR(pg_catalog.=) 77 AND pg_catalog.length(tenant) OPERATOR(pg_catalog.>) 0
                        AND pg_catalog.current_setting('tenancy.bound_at', true) OPERATOR(pg_catalog.=) pg_catalog.now()::pg_catalog.text THEN
                    CASE WHEN pg_catalog.encode(pg_catalog.sha256(\(s).binding_outer_key() OPERATOR(pg_catalog.||) pg_catalog.sha256(
                            \(s).binding_inner_key() OPERATOR(pg_catalog.||) pg_catalog.convert_to(
                                tenant OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) pg_catalog.substr(tag, 1, 12), 'UTF8'))), 'hex')
                        OPERATOR(pg_catalog.=) pg_catalog.substr(tag, 14) THEN
                        CASE WHEN pg_catalog.abs(pg_catalog.int8(pg_catalog.substr(tag, 1, 12)) OPERATOR(pg_catalog.-)
                                pg_catalog.int8(pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.now()) OPERATOR(pg_catalog./) 60))) OPERATOR(pg_catalog.<=) 1
                            THEN tenant END
                    END
                END;
            END
            $tenancy$;
            """
    }

    /// The trusted binding check: the setting itself, or NULL when it is unset or empty. An
    /// SQL function without `SECURITY DEFINER`, so the planner inlines it into the policy.
    /// The key functions stay, returning nothing, so the grants are the same in both modes.
    var trustedFunctionSQL: String {
        let s = quotedSchema
        return """
            \(keyFunctionsSQL)
            CREATE OR REPLACE FUNCTION \(s).current_tenant() RETURNS pg_catalog.text
                LANGUAGE sql STABLE SECURITY INVOKER PARALLEL SAFE
                AS $tenancy$
                    SELECT CASE WHEN pg_catalog.current_setting('tenancy.tenant_id', true) OPERATOR(pg_catalog.=) '' THEN NULL
                        ELSE pg_catalog.current_setting('tenancy.tenant_id', true) END
                $tenancy$;
            """
    }

    // MARK: - Step 3: tenant tables (owner)

    /// Enables and forces row-level security on a table and creates its policy, as the owner
    /// role; grants `applicationRole` reads and writes, and `maintenanceRole` reads. Running it
    /// again recreates the policy and changes nothing else.
    ///
    /// The table must be owned by the owner role and have a `text` column `tenant_id` that
    /// leads its primary key and every unique index, so conflicts never touch another tenant's
    /// row and the table can be distributed by `tenant_id`.
    ///
    /// - Throws: ``IsolationError`` with code ``IsolationError/Code/invalidTable`` naming the
    ///   table and what to change.
    public func protect(
        table: String, schema tableSchema: String = "public", owner: PostgresDatabase, applicationRole: String, maintenanceRole: String? = nil
    ) async throws {
        let qualified = try PostgresIdentifier.quoted(tableSchema) + "." + PostgresIdentifier.quoted(table)
        let application = try PostgresIdentifier.quoted(applicationRole)
        let maintenance = try maintenanceRole.map(PostgresIdentifier.quoted)
        let policy = try PostgresIdentifier.quoted(Self.policyName)
        let check = "tenant_id OPERATOR(pg_catalog.=) (SELECT \(quotedSchema).current_tenant())"
        try await owner.installerTransaction { [quotedSchema] connection in
            try Self.checkTableShape(qualified, display: "\(tableSchema).\(table)", on: connection)
            var script = """
                ALTER TABLE \(qualified) ENABLE ROW LEVEL SECURITY;
                ALTER TABLE \(qualified) FORCE ROW LEVEL SECURITY;
                DROP POLICY IF EXISTS \(policy) ON \(qualified);
                CREATE POLICY \(policy) ON \(qualified) AS PERMISSIVE FOR ALL TO PUBLIC USING (\(check)) WITH CHECK (\(check));
                GRANT SELECT, INSERT, UPDATE, DELETE ON \(qualified) TO \(application);
                """
            if let maintenance {
                script += "\nGRANT SELECT ON \(qualified) TO \(maintenance);"
            }
            try connection.executeScript(script)
            try connection.execute(
                "INSERT INTO \(quotedSchema).rls_tables (schema_name, table_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                [.text(tableSchema), .text(table)])
        }
    }

    /// Checks that the table exists, belongs to the current role, and has a `text` column
    /// `tenant_id` leading its primary key and every unique index.
    static func checkTableShape(_ qualified: String, display: String, on connection: isolated PostgresConnection) throws {
        let rows = try connection.query(
            """
            SELECT c.oid::int8 AS oid, pg_catalog.pg_get_userbyid(c.relowner) AS owner, c.relowner OPERATOR(pg_catalog.=) r.oid AS owned,
                (SELECT t.typname::text FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
                 WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) 'tenant_id' AND NOT a.attisdropped) AS tenant_type
            FROM pg_catalog.pg_class c, pg_catalog.pg_roles r
            WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1) AND c.relkind IN ('r', 'p') AND r.rolname OPERATOR(pg_catalog.=) current_user
            """, [.text(qualified)])
        guard let row = rows.first else {
            throw IsolationError(.invalidTable, "cannot protect '\(display)': no table with that name exists")
        }
        guard try row.boolean("owned") else {
            throw IsolationError(
                .invalidTable, "cannot protect '\(display)': it belongs to role \(try row.text("owner")); run protect with the owner role's pool, or ALTER TABLE ... OWNER TO the owner role")
        }
        guard let type = try row.optionalText("tenant_type") else {
            throw IsolationError(.invalidTable, "cannot protect '\(display)': it has no tenant_id column")
        }
        guard ["text", "varchar"].contains(type) else {
            throw IsolationError(.invalidTable, "cannot protect '\(display)': its tenant_id column is \(type), expected text")
        }
        let indexes = try connection.query(
            """
            SELECT i.indexrelid::regclass::text AS name, i.indisprimary AS is_primary,
                (SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) i.indrelid AND a.attnum OPERATOR(pg_catalog.=) i.indkey[0]) AS leading
            FROM pg_catalog.pg_index i WHERE i.indrelid OPERATOR(pg_catalog.=) $1::int8::oid AND i.indisunique
            """, [.integer(try row.integer("oid"))])
        guard try indexes.contains(where: { try $0.boolean("is_primary") }) else {
            throw IsolationError(.invalidTable, "cannot protect '\(display)': it has no primary key; declare PRIMARY KEY (tenant_id, ...)")
        }
        for index in indexes where try index.optionalText("leading") != "tenant_id" {
            throw IsolationError(
                .invalidTable, "cannot protect '\(display)': its unique index \(try index.text("name")) does not start with tenant_id; make tenant_id its first column")
        }
    }

    /// A protected table: its schema and name.
    public struct TableName: Hashable, Sendable, CustomStringConvertible {
        public let schema: String
        public let name: String

        /// The quoted, schema-qualified name for SQL text.
        var qualified: String {
            get throws { try PostgresIdentifier.quoted(schema) + "." + PostgresIdentifier.quoted(name) }
        }

        public var description: String { "\(schema).\(name)" }
    }

    /// Returns the protected tables, sorted by schema and name.
    public func protectedTables(_ database: PostgresDatabase) async throws -> [TableName] {
        try await database.withConnection { [quotedSchema] connection in
            try connection.query("SELECT schema_name, table_name FROM \(quotedSchema).rls_tables ORDER BY schema_name, table_name").map {
                TableName(schema: try $0.text("schema_name"), name: try $0.text("table_name"))
            }
        }
    }
}
