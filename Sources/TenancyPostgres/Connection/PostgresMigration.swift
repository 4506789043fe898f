import Foundation

/// One versioned schema change of a component, such as the registry.
public struct PostgresMigration: Sendable {
    /// The version, increasing from 1 within the component.
    public let version: Int
    /// A short description, stored with the applied version.
    public let name: String
    /// The statements, without parameters. Unqualified names refer to the target schema,
    /// because the migration runs with `search_path` set to it.
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

/// Quoting for SQL identifiers, the one place the library puts names into SQL text.
public enum PostgresIdentifier {
    /// The maximum identifier length in bytes (`NAMEDATALEN - 1`). The server silently
    /// truncates longer ones, so the library rejects them.
    public static let maximumLength = 63

    /// Returns `name` as a quoted identifier (`"name"`, with `"` doubled).
    ///
    /// - Throws: ``PostgresError/Kind/invalidArgument`` for an empty name, a name with NUL, or
    ///   one longer than 63 bytes.
    public static func quoted(_ name: String) throws -> String {
        guard !name.isEmpty, name.utf8.count <= maximumLength, !name.utf8.contains(0) else {
            throw PostgresError(
                .invalidArgument, operation: "quote identifier",
                message: "invalid identifier '\(name)': expected 1 to \(maximumLength) bytes without NUL")
        }
        return "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension PostgresDatabase {
    /// Applies the migrations of `component` that `schema` does not have yet, in one
    /// transaction, and records each version in the schema's `tenancy_migrations` table.
    ///
    /// Run it with the owner role: it creates the schema when missing, and the objects it
    /// creates belong to the role that runs it. A transaction-scoped advisory lock makes
    /// processes that start at the same time apply each version once: the second waits and
    /// then finds the versions recorded.
    public func migrate(component: String, schema: String, _ migrations: [PostgresMigration]) async throws {
        let versions = migrations.map(\.version)
        precondition(versions.isEmpty || versions == Array(1...versions.count), "migration versions of '\(component)' must be 1, 2, 3, ... in order")
        let quotedSchema = try PostgresIdentifier.quoted(schema)
        try await transaction { connection in
            try connection.execute("SELECT pg_advisory_xact_lock(hashtextextended('tenancy.migrate', 0))")
            try connection.executeScript("""
                CREATE SCHEMA IF NOT EXISTS \(quotedSchema);
                SET LOCAL search_path TO \(quotedSchema);
                CREATE TABLE IF NOT EXISTS tenancy_migrations (
                    component text NOT NULL,
                    version integer NOT NULL,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (component, version)
                );
                """)
            let current = try connection.query(
                "SELECT coalesce(max(version), 0) AS version FROM tenancy_migrations WHERE component = $1", [.text(component)])
            let applied = try current.first?.integer("version") ?? 0
            for migration in migrations where migration.version > applied {
                try connection.executeScript(migration.sql)
                try connection.execute(
                    "INSERT INTO tenancy_migrations (component, version, name) VALUES ($1, $2, $3)",
                    [.text(component), .integer(Int64(migration.version)), .text(migration.name)])
            }
        }
    }

    /// Returns the highest version of `component` applied in `schema`, 0 when none is, or nil
    /// when the schema has no migrations table (or the role cannot see it).
    public func migrationVersion(component: String, schema: String) async throws -> Int? {
        let quotedSchema = try PostgresIdentifier.quoted(schema)
        return try await withConnection { connection in
            let exists = try connection.query(
                "SELECT to_regclass($1) IS NOT NULL AS present", [.text("\(quotedSchema).tenancy_migrations")])
            guard try exists.first?.boolean("present") == true else { return nil }
            let rows = try connection.query(
                "SELECT coalesce(max(version), 0) AS version FROM \(quotedSchema).tenancy_migrations WHERE component = $1",
                [.text(component)])
            return Int(try rows.first?.integer("version") ?? 0)
        }
    }
}

extension PostgresDatabase {
    /// Runs `body` in a transaction that first takes the installers' advisory lock, the same one
    /// ``migrate(component:schema:_:)`` takes.
    ///
    /// Installers that change catalogs (grants, policies, functions) at the same time otherwise
    /// fail with SQLSTATE XX000 ("tuple concurrently updated"), as concurrent `GRANT`s on one
    /// object do.
    func installerTransaction<Result: Sendable>(
        _ body: @escaping @Sendable (isolated PostgresConnection) throws -> Result
    ) async throws -> Result {
        try await transaction { connection in
            try connection.execute("SELECT pg_advisory_xact_lock(hashtextextended('tenancy.migrate', 0))")
            return try body(connection)
        }
    }
}
