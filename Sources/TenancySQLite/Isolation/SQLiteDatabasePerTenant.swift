public import Foundation
public import Tenancy
import Synchronization

/// One SQLite file per tenant under a directory: the silo placement.
///
/// Each tenant's statements run in its own file with full SQL (`RETURNING`, upserts and row ids
/// work, because there are no views in between), but under the same authorizer deny-list as the
/// pool: no `ATTACH` (which also covers `VACUUM INTO`), no `load_extension`, no virtual tables,
/// no schema changes, pragmas from the allow-list only. So no tenant can open another tenant's
/// file. A tenant's file is created and migrated on first use and removed by its purger.
public final class SQLiteDatabasePerTenant: TenantDatabaseProvider {
    /// The directory holding one `<tenant-id>.sqlite` file per tenant.
    public let directory: URL
    /// The schema every tenant file gets, applied in the platform mode when the file is opened.
    public let migrations: [SQLiteMigration]
    /// How long one tenant statement may run before it is interrupted.
    public let statementTimeLimit: Duration
    /// Where denied statements are recorded, if anywhere.
    public let audit: (any AuditStore)?
    /// The most tenant files kept open at once; the least recently used is closed first.
    public let maximumOpenDatabases: Int

    private let open = Mutex<OpenDatabases>(OpenDatabases())

    private struct OpenDatabases {
        var databases: [TenantID: SQLiteDatabase] = [:]
        var order: [TenantID] = []
    }

    public var placement: IsolationPlacement { .databasePerTenant }
    public var enforcesRowLevelSecurity: Bool { false }

    /// Creates the placement over `directory` (created with mode 0700 when missing).
    ///
    /// - Parameters:
    ///   - migrations: the tenant schema, versioned; each tenant file is migrated on first use.
    ///   - maximumOpenDatabases: how many tenant files stay open; 1 or more.
    public init(
        directory: String, migrations: [SQLiteMigration], statementTimeLimit: Duration = .seconds(5),
        audit: (any AuditStore)? = nil, maximumOpenDatabases: Int = 64
    ) throws {
        guard maximumOpenDatabases >= 1 else {
            throw ValidationError(.invalidArgument, field: "maximumOpenDatabases", message: "invalid maximumOpenDatabases \(maximumOpenDatabases): expected 1 or more")
        }
        guard statementTimeLimit > .zero else {
            throw ValidationError(.invalidArgument, field: "statementTimeLimit", message: "invalid statement time limit: expected more than zero")
        }
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        self.directory = url
        self.migrations = migrations
        self.statementTimeLimit = statementTimeLimit
        self.audit = audit
        self.maximumOpenDatabases = maximumOpenDatabases
    }

    /// The path of a tenant's file.
    public func path(of tenantID: TenantID) -> String {
        directory.appendingPathComponent("\(tenantID.rawValue).sqlite").path
    }

    /// Returns a handle bound to `tenant` in its own file, creating and migrating the file on
    /// first use.
    public func handle(for tenant: Tenant) async throws -> SQLiteTenantHandle {
        let database = try await database(for: tenant.id)
        return SQLiteTenantHandle(tenantID: tenant.id, database: database, mode: .siloTenant, timeLimit: statementTimeLimit, audit: audit)
    }

    func database(for tenantID: TenantID) async throws -> SQLiteDatabase {
        if let cached = touch(tenantID) { return cached }
        let database = try SQLiteDatabase(path: path(of: tenantID), readers: 1)
        try await database.migrate(component: "tenant", migrations)
        return open.withLock { open in
            if let raced = open.databases[tenantID] { return raced }
            open.databases[tenantID] = database
            open.order.append(tenantID)
            if open.order.count > maximumOpenDatabases {
                let evicted = open.order.removeFirst()
                open.databases[evicted] = nil
            }
            return database
        }
    }

    private func touch(_ tenantID: TenantID) -> SQLiteDatabase? {
        open.withLock { open in
            guard let database = open.databases[tenantID] else { return nil }
            open.order.removeAll { $0 == tenantID }
            open.order.append(tenantID)
            return database
        }
    }

    /// Closes and deletes a tenant's file (and its WAL and shared-memory files); returns the
    /// number of files removed.
    @discardableResult
    public func removeDatabase(of tenantID: TenantID) throws -> Int {
        open.withLock { open in
            open.databases[tenantID] = nil
            open.order.removeAll { $0 == tenantID }
        }
        var removed = 0
        for suffix in ["", "-wal", "-shm"] {
            let file = path(of: tenantID) + suffix
            if FileManager.default.fileExists(atPath: file) {
                try FileManager.default.removeItem(atPath: file)
                removed += 1
            }
        }
        return removed
    }
}
