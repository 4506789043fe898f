import Foundation
import Tenancy
import TenancySQLite

/// The location of the registry database, from `--database` or `TENANCY_DATABASE_URL`.
enum DatabaseLocation: Equatable, Sendable {
    /// An SQLite file, written `sqlite:PATH`.
    case sqlite(path: String)
    /// A PostgreSQL server, written `postgres://...` or `postgresql://...`, connected to as the
    /// application role. The URL may contain a password, so show it only through ``redacted(_:)``.
    case postgres(url: String)

    /// The name of the environment variable read when `--database` is absent.
    static let environmentVariable = "TENANCY_DATABASE_URL"

    /// The location used when neither `--database` nor the environment variable is set.
    static let defaultLocation = DatabaseLocation.sqlite(path: "./tenancy.sqlite")

    /// Parses a database URL.
    ///
    /// - Parameter source: where the value came from (`--database` or the variable), named in
    ///   the error.
    init(parsing text: String, source: String) throws(UsageError) {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else {
                throw UsageError("invalid \(source) 'sqlite:': the path is missing; expected sqlite:PATH, as in sqlite:./tenancy.sqlite")
            }
            self = .sqlite(path: path)
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(url: text)
        } else {
            // A bare path most likely lacks only the scheme, so the error shows the fixed value.
            let example = text.contains("://") ? "" : ", as in sqlite:\(ArgumentParser.displayed(text))"
            throw UsageError("invalid \(source) '\(Self.redacted(text))': expected sqlite:PATH\(example) or postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
    }

    /// Returns the location from `--database`, else from the environment, else the default.
    ///
    /// An empty environment variable counts as unset, as shells often export empty values.
    static func resolve(option: String?, environment: [String: String]) throws(UsageError) -> DatabaseLocation {
        if let option {
            return try DatabaseLocation(parsing: option, source: "--database")
        }
        if let value = environment[environmentVariable], !value.isEmpty {
            return try DatabaseLocation(parsing: value, source: environmentVariable)
        }
        return defaultLocation
    }

    /// Returns `text` with any password in a `scheme://user:password@host` form replaced by
    /// `***`, so a mistyped URL can be shown in an error without leaking a credential.
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else {
            return ArgumentParser.displayed(text)
        }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else {
            return ArgumentParser.displayed(text)
        }
        let hidden = String(text[..<authority.index(after: colon)]) + "***" + String(text[at...])
        return ArgumentParser.displayed(hidden)
    }
}

/// The database file named by `--database` does not exist, and the command only reads or
/// changes existing tenants.
struct DatabaseMissingError: Error, CustomStringConvertible {
    let path: String

    var description: String {
        "no database at '\(path)': check --database or \(DatabaseLocation.environmentVariable); "
            + "'tenancy create' creates the database"
    }
}

/// The SQLite file could not be opened or its schema could not be set up.
struct DatabaseOpenError: Error, CustomStringConvertible {
    let path: String
    let underlying: SQLiteError

    var description: String {
        "cannot open the database '\(path)': \(underlying); check that the directory exists and is writable"
    }
}

/// An open registry: the manager, the quota stores and the database they work on.
struct OpenRegistry: Sendable {
    /// The database behind the registry, with what the tenant-data commands need from it.
    enum Backend: Sendable {
        /// An SQLite file and the isolation layer of its protected tables, when it has any.
        case sqlite(SQLiteDatabase, protectedTables: SQLiteTenantDatabase?)
        case postgres(PostgresBackend)
    }

    let manager: TenantManager
    let backend: Backend
    /// The database as the demo summary shows it: a file path, or a PostgreSQL URL without
    /// its password and the schema.
    let path: String
    /// The quota counters; their purger is registered with ``manager``.
    let quotaStore: any QuotaStore
    /// The rate-limit buckets; their purger is registered with ``manager``.
    let rateLimitStore: any RateLimitStore

    /// Returns a quota manager over the registry's counters with the registry attached, so
    /// each tenant's limits are its overrides, else its tier's defaults.
    func quotaManager() throws -> QuotaManager {
        try QuotaManager(store: quotaStore, tenants: manager)
    }

    /// Opens the registry at `location`.
    ///
    /// - Parameters:
    ///   - create: whether a missing SQLite file, or a missing PostgreSQL schema, may be
    ///     created. Commands that only read or change existing tenants pass false, so a mistyped
    ///     location fails and leaves nothing behind.
    ///   - postgres: the owner and maintenance URLs, schema and binding secret, used only when
    ///     `location` is PostgreSQL.
    /// - Throws: ``DatabaseMissingError``, ``DatabaseOpenError``, ``PostgresOpenError`` or
    ///   ``UsageError``.
    static func open(_ location: DatabaseLocation, create: Bool, postgres: PostgresSettings = PostgresSettings()) async throws -> OpenRegistry {
        switch location {
        case .postgres(let url):
            return try await openPostgres(url: url, settings: postgres, create: create)
        case .sqlite(let path):
            if !create && !FileManager.default.fileExists(atPath: path) {
                throw DatabaseMissingError(path: path)
            }
            do {
                let database = try SQLiteDatabase(path: path)
                let manager = try await TenantManager.sqlite(database)
                // The quota and rate-limit tables are created on first open, so a purge always
                // removes the tenant's counters and buckets along with its record. They are
                // registered first, so receipts list the purgers in the same order in every run.
                let quotaStore = try await SQLiteQuotaStore(database: database)
                let rateLimitStore = try await SQLiteRateLimitStore(database: database)
                manager.register(QuotaPurger(store: quotaStore))
                manager.register(RateLimitPurger(store: rateLimitStore))
                let protectedTables = try await openProtectedTables(database)
                if let protectedTables {
                    // A purge through the CLI must remove the tenant's rows from protected
                    // tables too, or the receipt would claim data removed that is still there.
                    manager.register(SQLiteProtectedRowsPurger(protectedTables))
                }
                return OpenRegistry(
                    manager: manager, backend: .sqlite(database, protectedTables: protectedTables), path: path, quotaStore: quotaStore,
                    rateLimitStore: rateLimitStore)
            } catch let error as SQLiteError {
                throw DatabaseOpenError(path: path, underlying: error)
            }
        }
    }

    /// Returns the isolation layer when the file has its bookkeeping table, else nil, so a
    /// registry without protected tables is not given one.
    private static func openProtectedTables(_ database: SQLiteDatabase) async throws -> SQLiteTenantDatabase? {
        let exists = try await database.read { connection in
            try !connection.query("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'tenancy_protected_tables'").isEmpty
        }
        return exists ? try await SQLiteTenantDatabase(database) : nil
    }
}
