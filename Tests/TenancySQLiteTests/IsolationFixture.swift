import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

/// A database with two protected tables, `debates` and `topics`, and two tenants with rows:
/// `tenant-a` has debates a1, a2, a3 and `tenant-b` has b1, b2.
struct IsolationFixture {
    let directory: TemporaryDirectory
    let database: SQLiteDatabase
    let manager: TenantManager
    let tenants: SQLiteTenantDatabase
    let tenantA: Tenant
    let tenantB: Tenant

    static let schema = """
        CREATE TABLE debates (
            tenant_id TEXT NOT NULL,
            id TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT 'untitled',
            rounds INTEGER NOT NULL DEFAULT 3,
            topic_id TEXT,
            PRIMARY KEY (tenant_id, id)
        ) WITHOUT ROWID;
        CREATE TABLE topics (
            tenant_id TEXT NOT NULL,
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (tenant_id, id)
        );
        CREATE TABLE app_settings (name TEXT PRIMARY KEY, value TEXT);
        """

    init(readers: Int = 2, statementTimeLimit: Duration = .seconds(5)) async throws {
        directory = try TemporaryDirectory()
        database = try SQLiteDatabase(path: directory.path("isolation.sqlite"), readers: readers)
        manager = try await TenantManager.sqlite(database)
        tenants = try await SQLiteTenantDatabase(database, statementTimeLimit: statementTimeLimit, audit: manager.audit)
        tenantA = try await manager.createTenant(name: "Tenant A", tier: .business, adminEmail: "a@a.example", id: "tenant-a")
        tenantB = try await manager.createTenant(name: "Tenant B", tier: .business, adminEmail: "b@b.example", id: "tenant-b")

        try await database.write { try $0.executeScript(Self.schema) }
        let tenants = tenants
        try await manager.withPlatformScope(reason: "test schema") {
            try await tenants.protect(table: "debates")
            try await tenants.protect(table: "topics")
        }

        let a = try await handle(tenantA)
        try await a.execute("INSERT INTO topics (id, name) VALUES ('t1', 'Energy')")
        for id in ["a1", "a2", "a3"] {
            try await a.execute("INSERT INTO debates (id, title, topic_id) VALUES (\(id), \("Debate " + id), 't1')")
        }
        let b = try await handle(tenantB)
        try await b.execute("INSERT INTO topics (id, name) VALUES ('t1', 'Secret topic of B')")
        for id in ["b1", "b2"] {
            try await b.execute("INSERT INTO debates (id, title, topic_id) VALUES (\(id), \("Debate " + id), 't1')")
        }
    }

    func handle(_ tenant: Tenant) async throws -> SQLiteTenantHandle {
        try await tenants.handle(for: tenant)
    }

    /// Every row of a protected table, read from the base table in the platform mode.
    func baseRows(_ table: String) async throws -> [String] {
        try await database.read { connection in
            try connection.query("SELECT tenant_id || ':' || id AS row FROM \"\(table)$rows\" ORDER BY tenant_id, id").map { try $0.text("row") }
        }
    }

    func remove() {
        directory.remove()
    }
}

/// Runs `body` and returns the `IsolationError` it throws, recording an issue when it throws
/// nothing or something else.
func isolationError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> IsolationError? {
    do {
        try await body()
        Issue.record("expected an IsolationError, but the statement ran", sourceLocation: sourceLocation)
        return nil
    } catch let error as IsolationError {
        return error
    } catch {
        Issue.record("expected an IsolationError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
