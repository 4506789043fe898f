import Foundation
import Tenancy

/// One versioned schema change of a component, such as the registry.
public struct SQLiteMigration: Sendable {
    /// The version, increasing from 1 within the component.
    public let version: Int
    /// A short description, stored with the applied version.
    public let name: String
    /// The statements, without parameters.
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

extension SQLiteDatabase {
    /// Applies the migrations of `component` that the database has not applied yet, in one
    /// `BEGIN IMMEDIATE` transaction, and records each version in `tenancy_migrations`.
    ///
    /// Processes that start at the same time apply each version once: the second waits for the
    /// write lock and then finds the versions recorded.
    public func migrate(component: String, _ migrations: [SQLiteMigration]) async throws {
        let versions = migrations.map(\.version)
        precondition(versions == Array(1...max(1, versions.count)) || versions.isEmpty, "migration versions of '\(component)' must be 1, 2, 3, ... in order")
        try await write { connection in
            try connection.executeScript("""
                CREATE TABLE IF NOT EXISTS tenancy_migrations (
                    component TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    applied_at INTEGER NOT NULL,
                    PRIMARY KEY (component, version)
                ) WITHOUT ROWID
                """)
            let applied = try connection.query(
                "SELECT coalesce(max(version), 0) AS version FROM tenancy_migrations WHERE component = ?", [.text(component)])
            let current = try applied.first?.integer("version") ?? 0
            for migration in migrations where migration.version > current {
                try connection.executeScript(migration.sql)
                try connection.execute(
                    "INSERT INTO tenancy_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)",
                    [.text(component), .integer(Int64(migration.version)), .text(migration.name), .integer(Date().millisecondsSince1970)])
            }
        }
    }
}
