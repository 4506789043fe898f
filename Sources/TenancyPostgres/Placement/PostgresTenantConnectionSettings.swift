import Foundation
import Tenancy

/// How to reach one tenant's own database: the server, the database and the tenant's role
/// with its password, as stored in the registry's `tenancy_tenant_databases` table.
///
/// ``description`` and ``debugDescription`` show no password, and the mirror that `dump`
/// and the debugger use leaves it out.
public struct PostgresTenantConnectionSettings: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let host: String
    public let port: Int
    /// The tenant's database.
    public let database: String
    /// The tenant's login role, which may connect to this database and no other tenant's.
    public let role: String
    /// The role's password. Secret: never printed or logged.
    let password: String

    init(host: String, port: Int, database: String, role: String, password: String) {
        self.host = host
        self.port = port
        self.database = database
        self.role = role
        self.password = password
    }

    /// Returns the connection settings for the tenant's role, copying the time limits and the
    /// libpq parameters (such as `sslmode`) from `template`.
    func configuration(template: PostgresConfiguration) -> PostgresConfiguration {
        PostgresConfiguration(
            host: host, port: port, database: database, user: role, password: password,
            applicationName: template.applicationName, connectTimeout: template.connectTimeout,
            statementTimeLimit: template.statementTimeLimit, parameters: template.parameters)
    }

    /// The URL without the password, such as `postgres://tenant_acme@127.0.0.1:5432/tenant_acme`.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(role)@\(shownHost):\(port)/\(database)"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["host": host, "port": port, "database": database, "role": role], displayStyle: .struct)
    }
}

/// The registry table of database-per-tenant placements, in the registry's schema.
///
/// Only the owner role may read it, because it contains every tenant's password: the migration
/// revokes all privileges from `PUBLIC` and grants the application role nothing.
enum PostgresTenantDatabaseRegistry {
    static let component = "tenant-databases"
    static let table = "tenancy_tenant_databases"

    static let migrations: [PostgresMigration] = [
        PostgresMigration(version: 1, name: "create the tenant database placements", sql: """
            CREATE TABLE tenancy_tenant_databases (
                tenant_id text COLLATE "C" PRIMARY KEY,
                host text NOT NULL,
                port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
                database_name text NOT NULL UNIQUE,
                role_name text NOT NULL UNIQUE,
                password text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            REVOKE ALL ON tenancy_tenant_databases FROM PUBLIC;
            """),
    ]

    /// Reads a tenant's settings, or nil when the tenant has no own database.
    static func settings(of tenantID: TenantID, in schema: PostgresRegistrySchema, owner: PostgresDatabase) async throws -> PostgresTenantConnectionSettings? {
        let rows = try await owner.query(
            "SELECT host, port, database_name, role_name, password FROM \(schema.table(table)) WHERE tenant_id = $1",
            [.text(tenantID.rawValue)])
        guard let row = rows.first else { return nil }
        return PostgresTenantConnectionSettings(
            host: try row.text("host"), port: Int(try row.integer("port")), database: try row.text("database_name"),
            role: try row.text("role_name"), password: try row.text("password"))
    }

    /// Stores a tenant's settings unless the tenant already has some, and returns the stored
    /// ones, so a repeated placement keeps the first password.
    static func insertOrRead(
        _ settings: PostgresTenantConnectionSettings, for tenantID: TenantID, in schema: PostgresRegistrySchema, owner: PostgresDatabase
    ) async throws -> PostgresTenantConnectionSettings {
        try await owner.execute(
            """
            INSERT INTO \(schema.table(table)) (tenant_id, host, port, database_name, role_name, password)
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id) DO NOTHING
            """,
            [.text(tenantID.rawValue), .text(settings.host), .integer(Int64(settings.port)), .text(settings.database), .text(settings.role), .text(settings.password)])
        guard let stored = try await Self.settings(of: tenantID, in: schema, owner: owner) else {
            throw PostgresError(
                .protocolViolation, operation: "place tenant",
                message: "the placement of tenant '\(tenantID)' was not found right after it was stored; check that no other process purges it at the same time")
        }
        return stored
    }

    /// Deletes a tenant's settings; returns the number of rows deleted (0 or 1).
    static func delete(_ tenantID: TenantID, in schema: PostgresRegistrySchema, owner: PostgresDatabase) async throws -> Int {
        try await owner.execute("DELETE FROM \(schema.table(table)) WHERE tenant_id = $1", [.text(tenantID.rawValue)])
    }
}
