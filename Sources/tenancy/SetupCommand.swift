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

    private static func runRolesSQL(_ invocation: Invocation) async throws {
        let settings = PostgresSettings.resolve(invocation.arguments, environment: invocation.environment)
        guard case .postgres(let applicationURL) = try DatabaseLocation.resolve(
            option: invocation.arguments.value("database"), environment: invocation.environment)
        else {
            throw UsageError("'roles-sql' needs a postgres:// URL in --database or \(DatabaseLocation.environmentVariable): the SQL is for PostgreSQL")
        }
        guard let ownerURL = settings.ownerURL else {
            throw UsageError("missing owner role: pass --owner-database URL or set \(PostgresSettings.ownerVariable)")
        }
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
