import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

@Suite("SQLite protected table schema")
struct SQLiteSchemaIsolationTests {
    @Test("protect refuses keys that do not lead with tenant_id", arguments: [
        ("CREATE TABLE wrong_key (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL)", "wrong_key", "primary key starts with id"),
        ("CREATE TABLE no_key (tenant_id TEXT NOT NULL, id TEXT)", "no_key", "has no primary key"),
        ("CREATE TABLE no_tenant (id TEXT PRIMARY KEY)", "no_tenant", "has no tenant_id column"),
        ("CREATE TABLE bad_index (tenant_id TEXT NOT NULL, id TEXT NOT NULL, code TEXT, PRIMARY KEY (tenant_id, id)); CREATE UNIQUE INDEX bad_index_code ON bad_index (code)", "bad_index", "unique index bad_index_code"),
    ])
    func keyShapeRefused(schema: String, table: String, reason: String) async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        try await fixture.database.write { try $0.executeScript(schema) }
        let tenants = fixture.tenants

        let error = await isolationError {
            try await fixture.manager.withPlatformScope(reason: "test") { try await tenants.protect(table: table) }
        }

        #expect(error?.code == .invalidTable)
        #expect(error?.message.contains("'\(table)'") == true)
        #expect(error?.message.contains(reason) == true)
        let type = try await fixture.database.read { try $0.query("SELECT type FROM sqlite_schema WHERE name = ?", [.text(table)])[0].text("type") }
        #expect(type == "table")
    }

    @Test("protect outside the platform scope is denied")
    func protectNeedsPlatformScope() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        try await fixture.database.write { try $0.execute("CREATE TABLE notes (tenant_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant_id, id))") }

        let error = await isolationError { try await fixture.tenants.protect(table: "notes") }

        #expect(error?.code == .denied)
    }

    @Test("protect is idempotent and unprotect restores the table")
    func protectRoundTrip() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let tenants = fixture.tenants

        try await fixture.manager.withPlatformScope(reason: "test") {
            try await tenants.protect(table: "debates")
            try await tenants.unprotect(table: "debates")
        }
        let plain = try await fixture.database.read { connection in
            try connection.query("SELECT tenant_id || ':' || id AS row FROM debates ORDER BY 1").map { try $0.text("row") }
        }
        try await fixture.manager.withPlatformScope(reason: "test") { try await tenants.protect(table: "debates") }

        #expect(plain == ["tenant-a:a1", "tenant-a:a2", "tenant-a:a3", "tenant-b:b1", "tenant-b:b2"])
        #expect(try await tenants.protectedTables() == ["debates", "topics"])
        let a = try await fixture.handle(fixture.tenantA)
        #expect(try await a.query("SELECT id FROM debates").count == 3)
    }

    @Test("a schema change through the library keeps the table protected")
    func alterProtectedTable() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let tenants = fixture.tenants

        try await fixture.manager.withPlatformScope(reason: "add a column") {
            try await tenants.alterProtectedTable("debates") { connection in
                try connection.execute("ALTER TABLE debates ADD COLUMN status TEXT NOT NULL DEFAULT 'open'")
            }
        }
        let a = try await fixture.handle(fixture.tenantA)
        try await a.execute("INSERT INTO debates (id) VALUES ('a5')")
        let rows = try await a.query("SELECT id, status FROM debates ORDER BY id")

        #expect(try rows.map { try $0.text("status") } == ["open", "open", "open", "open"])
        #expect(try await fixture.baseRows("debates").count == 6)
    }

    @Test("the purger removes every row of one tenant and nothing else")
    func protectedRowsPurger() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let purger = SQLiteProtectedRowsPurger(fixture.tenants)

        let removed = try await purger.purge(fixture.tenantA.id)
        let again = try await purger.purge(fixture.tenantA.id)

        #expect(removed == 4)
        #expect(again == 0)
        #expect(try await fixture.baseRows("debates") == ["tenant-b:b1", "tenant-b:b2"])
        #expect(try await fixture.baseRows("topics") == ["tenant-b:t1"])
    }

    @Test("deleting a tenant with purge runs the isolation purger")
    func purgeThroughManager() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        fixture.manager.register(SQLiteProtectedRowsPurger(fixture.tenants))

        let receipt = try await fixture.manager.deleteTenant(fixture.tenantB.id, purgeData: true)

        #expect(receipt?.steps.map(\.purger) == ["sqlite-protected-rows", "registry"])
        #expect(receipt?.steps.first?.removed == 3)
        #expect(try await fixture.baseRows("debates") == ["tenant-a:a1", "tenant-a:a2", "tenant-a:a3"])
    }
}

@Suite("SQLite database per tenant")
struct SQLiteSiloTests {
    static let migrations = [
        SQLiteMigration(version: 1, name: "create notes", sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE, hits INTEGER NOT NULL DEFAULT 0)")
    ]

    struct Silo {
        let directory: TemporaryDirectory
        let placement: SQLiteDatabasePerTenant
        let a = Tenant(id: "silo-a", name: "Silo A", tier: .enterprise)
        let b = Tenant(id: "silo-b", name: "Silo B", tier: .enterprise)

        init() throws {
            directory = try TemporaryDirectory()
            placement = try SQLiteDatabasePerTenant(directory: directory.path("tenants"), migrations: SQLiteSiloTests.migrations)
        }
    }

    @Test("each tenant has its own file with full SQL")
    func fullSQL() async throws {
        let silo = try Silo()
        defer { silo.directory.remove() }
        let a = try await silo.placement.handle(for: silo.a)
        let b = try await silo.placement.handle(for: silo.b)

        let returned = try await a.query("INSERT INTO notes (body) VALUES ('hello') RETURNING id")
        try await a.execute("INSERT INTO notes (body) VALUES ('hello') ON CONFLICT (body) DO UPDATE SET hits = hits + 1")
        let rowid = try await a.query("SELECT last_insert_rowid() AS id")
        let aRows = try await a.query("SELECT body, hits FROM notes")
        let bRows = try await b.query("SELECT count(*) AS n FROM notes")

        #expect(try returned[0].integer("id") == 1)
        #expect(try rowid[0].integer("id") == 1)
        #expect(try aRows.map { "\(try $0.text("body")):\(try $0.integer("hits"))" } == ["hello:1"])
        #expect(try bRows[0].integer("n") == 0)
        #expect(FileManager.default.fileExists(atPath: silo.placement.path(of: "silo-a")))
    }

    @Test("a tenant cannot attach or copy out another tenant's file", arguments: [
        "ATTACH DATABASE '{other}' AS other",
        "VACUUM INTO '/tmp/stolen-copy.sqlite'",
        "SELECT load_extension('x')",
        "CREATE TABLE extra (x)",
        "PRAGMA journal_mode = DELETE",
    ])
    func attachDenied(template: String) async throws {
        let silo = try Silo()
        defer { silo.directory.remove() }
        let a = try await silo.placement.handle(for: silo.a)
        _ = try await silo.placement.handle(for: silo.b)
        let sql = template.replacingOccurrences(of: "{other}", with: silo.placement.path(of: "silo-b"))

        let error = await isolationError { _ = try await a.query(SQLiteQuery(unsafeSQL: sql)) }

        #expect(error?.code == .denied)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/stolen-copy.sqlite"))
    }

    @Test("the purger deletes the tenant's file only")
    func purger() async throws {
        let silo = try Silo()
        defer { silo.directory.remove() }
        let a = try await silo.placement.handle(for: silo.a)
        try await a.execute("INSERT INTO notes (body) VALUES ('x')")
        _ = try await silo.placement.handle(for: silo.b)

        let removed = try await SQLiteTenantDatabasePurger(silo.placement).purge("silo-a")

        #expect(removed >= 1)
        #expect(!FileManager.default.fileExists(atPath: silo.placement.path(of: "silo-a")))
        #expect(FileManager.default.fileExists(atPath: silo.placement.path(of: "silo-b")))
        let fresh = try await silo.placement.handle(for: silo.a).query("SELECT count(*) AS n FROM notes")
        #expect(try fresh[0].integer("n") == 0)
    }

    @Test("the enforcer accepts row-level security off only for this placement")
    func enforcerOptions() async throws {
        let silo = try Silo()
        defer { silo.directory.remove() }
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let off = TenantDataIsolation(enforceRowLevelSecurity: false, isolateFileStorage: false)

        let siloEnforcer = try? TenantIsolationEnforcer(off, database: silo.placement)
        let poolError = #expect(throws: IsolationError.self) { try TenantIsolationEnforcer(off, database: fixture.tenants) }
        let keysError = #expect(throws: IsolationError.self) {
            try TenantIsolationEnforcer(TenantDataIsolation(separateEncryptionKeys: true), database: fixture.tenants)
        }
        let filesError = #expect(throws: IsolationError.self) {
            try TenantIsolationEnforcer(TenantDataIsolation(isolateFileStorage: true), database: fixture.tenants)
        }

        #expect(siloEnforcer != nil)
        #expect(poolError?.code == .unavailable)
        #expect(keysError?.code == .unavailable)
        #expect(filesError?.code == .unavailable)
    }
}
