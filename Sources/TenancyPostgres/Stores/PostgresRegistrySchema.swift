import Foundation

/// The registry's tables in one PostgreSQL schema: tenants, the audit trail and deletion jobs.
///
/// ``install(owner:applicationRole:)`` runs the migrations as the owner role and grants the
/// application role only what the stores need. That role may read, insert and update tenants
/// and deletion jobs. It may only read and insert audit records, so the trail is append-only
/// for it, and it may delete or create nothing. Tenant ids use the `C` collation, so they sort
/// by bytes on every server whatever its locale.
public struct PostgresRegistrySchema: Sendable {
    static let component = "registry"

    /// The schema name, `tenancy` by default.
    public let name: String
    /// The quoted schema name, for SQL text.
    let quotedName: String

    public init(name: String = "tenancy") throws {
        self.name = name
        self.quotedName = try PostgresIdentifier.quoted(name)
    }

    /// Returns the schema-qualified, quoted name of one of the schema's tables.
    func table(_ table: String) -> String {
        "\(quotedName).\(table)"
    }

    static let migrations: [PostgresMigration] = [
        PostgresMigration(version: 1, name: "create tenants, audit and purge jobs", sql: """
            CREATE TABLE tenancy_tenants (
                id text COLLATE "C" PRIMARY KEY,
                name text NOT NULL,
                tier text NOT NULL,
                status text NOT NULL,
                status_before_suspension text,
                suspension_reason text,
                config jsonb NOT NULL,
                admin_email text,
                time_zone text NOT NULL,
                placement text NOT NULL,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                deleted_at timestamptz,
                metadata jsonb NOT NULL
            );
            CREATE INDEX tenancy_tenants_by_status ON tenancy_tenants (status, id);
            CREATE INDEX tenancy_tenants_by_tier ON tenancy_tenants (tier, id);

            CREATE TABLE tenancy_audit (
                sequence bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                time timestamptz NOT NULL,
                tenant_id text COLLATE "C",
                principal_id text,
                action text NOT NULL,
                outcome text NOT NULL,
                detail text
            );
            CREATE INDEX tenancy_audit_by_tenant ON tenancy_audit (tenant_id, sequence);

            CREATE TABLE tenancy_purge_jobs (
                tenant_id text COLLATE "C" PRIMARY KEY,
                started_at timestamptz NOT NULL,
                requested_by text,
                steps jsonb NOT NULL,
                receipt jsonb
            );
            """),
    ]

    /// Migrates the schema with the owner role's pool and grants `applicationRole` the
    /// privileges the stores need. Safe to run again; each run repeats the grants.
    ///
    /// - Parameter applicationRole: the role the stores connect as, usually the user of the
    ///   application pool's configuration.
    public func install(owner: PostgresDatabase, applicationRole: String) async throws {
        try await owner.migrate(component: Self.component, schema: name, Self.migrations)
        let role = try PostgresIdentifier.quoted(applicationRole)
        try await owner.installerTransaction { [quotedName] connection in
            try connection.executeScript("""
                GRANT USAGE ON SCHEMA \(quotedName) TO \(role);
                GRANT SELECT ON \(quotedName).tenancy_migrations TO \(role);
                GRANT SELECT, INSERT, UPDATE ON \(quotedName).tenancy_tenants TO \(role);
                GRANT SELECT, INSERT, UPDATE ON \(quotedName).tenancy_purge_jobs TO \(role);
                GRANT SELECT, INSERT ON \(quotedName).tenancy_audit TO \(role);
                """)
        }
    }

    /// Checks that the schema is installed at the version this library expects, so a store
    /// fails at start-up instead of at its first statement.
    func requireInstalled(_ database: PostgresDatabase) async throws {
        let expected = Self.migrations.count
        let version = try await database.migrationVersion(component: Self.component, schema: name)
        guard let version, version >= expected else {
            throw PostgresError(
                .invalidConfiguration, operation: "open registry",
                message: "the registry schema '\(name)' is at version \(version.map(String.init) ?? "none"), expected \(expected): "
                    + "run PostgresRegistrySchema.install(owner:applicationRole:) with the owner role first")
        }
    }
}

/// SQL fragments that convert between Swift's millisecond instants and `timestamptz`.
///
/// Both directions are exact for whole milliseconds: the bound value is added as an interval
/// of milliseconds (integer arithmetic in microseconds), and `extract(epoch ...)` returns
/// `numeric` on PostgreSQL 14 and later.
enum PostgresInstant {
    /// Returns the expression for parameter `$index`, bound as integer milliseconds since 1970.
    static func parameter(_ index: Int) -> String {
        "(timestamptz 'epoch' + $\(index)::int8 * interval '1 millisecond')"
    }

    /// Returns the select-list item that reads `column` as integer milliseconds, under its own name.
    static func column(_ column: String) -> String {
        "(extract(epoch FROM \(column)) * 1000)::int8 AS \(column)"
    }
}

/// JSON for the columns that hold structured values, with sorted keys and instants as
/// milliseconds, matching the SQLite stores.
enum JSONCoding {
    static func encode<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from text: String) throws -> Value {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(type, from: Data(text.utf8))
    }
}
