import Foundation
import Tenancy
import TenancyPostgres

/// `tenancy roles-sql`: prints the SQL a superuser runs once to prepare a PostgreSQL database.
enum SetupCommand {
    static let rolesSQL = Command(
        name: "roles-sql",
        summary: "print the SQL a superuser runs once to create the PostgreSQL roles and schema",
        details: """
            Reads the roles from the URLs: --database (the application role), --owner-database (the
            owner role) and, when given, --maintenance-database (the BYPASSRLS role for
            'sql --platform'), or their variables. The database is the one --database names, and
            the schema comes from --schema. Nothing is sent to a server: a superuser runs the SQL
            connected to that database (psql -d DATABASE -v ON_ERROR_STOP=1 -f FILE), then sets
            each role's password with ALTER ROLE ... PASSWORD. Running it again changes nothing
            else.
            The SQL creates the roles that are missing (LOGIN, no superuser, no BYPASSRLS except
            the maintenance role), revokes TEMPORARY on the database and CREATE on schema public
            from PUBLIC, hides the session's prepared statements (pg_prepared_statements) and
            other sessions' SQL (pg_stat_activity) from PUBLIC, takes pg_terminate_backend,
            pg_cancel_backend and large-object creation from PUBLIC, and creates the schema owned
            by the owner role, with USAGE for the application and maintenance roles. When the
            server has the tenancy_binding library (make -C postgres-extension install, as root on
            the database host), it also creates the C binding functions bind_tenant and
            bound_tenant in the schema; otherwise it raises a notice, and the verified binding uses
            the PL/pgSQL check. The first 'tenancy create' then installs the tables as the owner
            role. A table of your own gets row-level security from
            PostgresRowLevelSecurity.protect(table:), which also grants the maintenance role
            SELECT on it. With --json the SQL comes as {"sql": "..."}.
            """,
        run: runRolesSQL)

    static let install = Command(
        name: "install",
        summary: "install or upgrade the library's tables and tenant binding check in a PostgreSQL schema",
        options: [
            .flag("rotate-secret", help: "replace a stored binding secret that differs from \(PostgresBindingSecret.environmentVariable)"),
        ],
        details: """
            Runs, as the owner role (--owner-database), the migrations of the registry, the quota
            and rate-limit tables and row-level security in the schema (--schema), and installs
            the tenant binding check with the secret in \(PostgresBindingSecret.environmentVariable). The check is
            the C check when the schema has the functions of the tenancy_binding library (which
            'tenancy roles-sql' creates as a superuser), else the PL/pgSQL check; running install
            again after the superuser step moves a schema to the C check. The first 'tenancy create'
            installs the same, so install is for upgrades and rotation.
            When a binding secret is stored already and differs from the configured one, install
            stops with exit 4 and changes nothing: replacing it makes every tag signed with the
            old secret stop verifying at once. With --rotate-secret it replaces the secret; deploy
            the new secret to the applications first. Each part installs in transactions of its
            own, so after a failure running install again completes it.
            """,
        run: runInstall)

    /// Returns the settings and the application and owner URLs of a PostgreSQL-only command,
    /// or throws a usage error that ends with `reason`.
    private static func postgresURLs(
        _ invocation: Invocation, command: String, reason: String
    ) throws -> (settings: PostgresSettings, application: String, owner: String) {
        let settings = PostgresSettings.resolve(invocation.arguments, environment: invocation.environment)
        guard case .postgres(let applicationURL) = try DatabaseLocation.resolve(
            option: invocation.arguments.value("database"), environment: invocation.environment)
        else {
            throw UsageError("'\(command)' needs a postgres:// URL in --database or \(DatabaseLocation.environmentVariable): \(reason)")
        }
        guard let ownerURL = settings.ownerURL else {
            throw UsageError("missing owner role: pass --owner-database URL or set \(PostgresSettings.ownerVariable)")
        }
        return (settings, applicationURL, ownerURL)
    }

    private static func runInstall(_ invocation: Invocation) async throws {
        let (settings, applicationURL, ownerURL) = try postgresURLs(
            invocation, command: "install", reason: "on SQLite, 'tenancy create' installs everything")
        let secret = try settings.requireSecret()
        let configuration = try OpenRegistry.parseURL(applicationURL, source: "--database")
        _ = try OpenRegistry.parseURL(ownerURL, source: "--owner-database")
        let rowLevelSecurity: PostgresRowLevelSecurity
        let registrySchema: PostgresRegistrySchema
        let quotaSchema: PostgresQuotaSchema
        do {
            rowLevelSecurity = try PostgresRowLevelSecurity(schema: settings.schema)
            registrySchema = try PostgresRegistrySchema(name: settings.schema)
            quotaSchema = try PostgresQuotaSchema(name: settings.schema)
        } catch {
            throw UsageError("invalid schema name '\(settings.schema)' in --schema or \(PostgresSettings.schemaVariable): expected 1 to 63 bytes without NUL")
        }
        let database = try PostgresDatabase(configuration, maximumConnections: 2)
        let owner = try PostgresDatabase(url: ownerURL, maximumConnections: 2)
        defer {
            Task {
                await database.close()
                await owner.close()
            }
        }
        let binding = PostgresTenantBinding.verified(secret)
        do {
            if !invocation.arguments.has("rotate-secret") {
                try await requireStoredSecret(binding, database: database, owner: owner, rowLevelSecurity: rowLevelSecurity)
            }

            try await registrySchema.install(owner: owner, applicationRole: configuration.user)
            try await quotaSchema.install(owner: owner, applicationRole: configuration.user)
            try await rowLevelSecurity.install(owner: owner, applicationRole: configuration.user, binding: binding)
            let tenants = try await PostgresTenantDatabase(database, binding: binding, rowLevelSecurity: rowLevelSecurity)
            if invocation.json {
                try invocation.console.writeJSON(InstallOutput(schema: settings.schema, bindingCheck: tenants.bindingCheck.rawValue))
            } else {
                invocation.console.write(
                    "Installed schema '\(settings.schema)': the registry, quota and rate-limit tables, and row-level security with the \(tenants.bindingCheck.displayName).")
            }
        } catch let error as PostgresError {
            throw PostgresOpenError(location: configuration.description, schema: settings.schema, underlying: error)
        }
    }

    /// Throws ``SecretMismatchError`` when the schema stores a binding secret other than the
    /// one in `binding`. The start-up check binds a probe tenant with the configured secret,
    /// which the stored secret verifies only when the two are the same.
    ///
    /// The owner role looks for the secret table, because it owns the schema, whatever the
    /// application role's grants are.
    private static func requireStoredSecret(
        _ binding: PostgresTenantBinding, database: PostgresDatabase, owner: PostgresDatabase, rowLevelSecurity: PostgresRowLevelSecurity
    ) async throws {
        let stored = "\(try PostgresIdentifier.quoted(rowLevelSecurity.schema)).binding_secret"
        let installed = try await owner.query("SELECT pg_catalog.to_regclass($1) IS NOT NULL AS found", [.text(stored)])
        guard try installed[0].boolean("found") else { return }
        do {
            _ = try await PostgresTenantDatabase(database, binding: binding, rowLevelSecurity: rowLevelSecurity)
        } catch let error as IsolationError where error.code == .bindingMismatch {
            throw SecretMismatchError(schema: rowLevelSecurity.schema, underlying: error)
        }
    }

    /// The output of `install --json`.
    struct InstallOutput: Encodable {
        let schema: String
        let bindingCheck: String
    }

    /// The stored binding secret is not the configured one, and `--rotate-secret` was not given.
    struct SecretMismatchError: Error, CustomStringConvertible {
        let schema: String
        let underlying: IsolationError

        var description: String {
            "the binding secret stored in schema '\(schema)' is not the one in \(PostgresBindingSecret.environmentVariable) (or the clocks are more than a minute apart), "
                + "so install changed nothing; set the stored secret, or pass --rotate-secret to replace it, which stops every tag signed with the old one"
        }
    }

    private static func runRolesSQL(_ invocation: Invocation) async throws {
        let (settings, applicationURL, ownerURL) = try postgresURLs(invocation, command: "roles-sql", reason: "the SQL is for PostgreSQL")
        let application = try OpenRegistry.parseURL(applicationURL, source: "--database")
        let owner = try OpenRegistry.parseURL(ownerURL, source: "--owner-database")
        let maintenance = try settings.maintenanceURL.map { try OpenRegistry.parseURL($0, source: "--maintenance-database") }
        let roles = PostgresRowLevelSecurity.Roles(owner: owner.user, application: application.user, maintenance: maintenance?.user)
        let names = [owner.user, application.user] + (maintenance.map { [$0.user] } ?? [])
        guard Set(names).count == names.count else {
            throw UsageError("the application, owner and maintenance roles must be three different roles, as row-level security depends on it")
        }
        let sql: String
        do {
            sql = try PostgresRowLevelSecurity(schema: settings.schema).superuserSQL(database: application.database, roles: roles)
        } catch {
            throw UsageError("invalid role, database or schema name: \(error)")
        }
        if invocation.json {
            try invocation.console.writeJSON(RolesSQLOutput(sql: sql))
        } else {
            invocation.console.write(sql)
        }
    }

    /// The output of `roles-sql --json`.
    struct RolesSQLOutput: Encodable {
        let sql: String
    }
}
