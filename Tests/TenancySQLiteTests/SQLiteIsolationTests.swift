import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

@Suite("SQLite pooled isolation")
struct SQLiteIsolationTests {
    @Test("reads return only the bound tenant's rows", arguments: [
        ("SELECT id FROM debates ORDER BY id", ["a1", "a2", "a3"]),
        ("SELECT d.id FROM debates d JOIN topics t ON t.tenant_id = d.tenant_id AND t.id = d.topic_id ORDER BY d.id", ["a1", "a2", "a3"]),
        ("SELECT id FROM debates WHERE topic_id IN (SELECT id FROM topics) ORDER BY id", ["a1", "a2", "a3"]),
        ("WITH recent AS (SELECT id FROM debates) SELECT id FROM recent ORDER BY id", ["a1", "a2", "a3"]),
        ("SELECT id FROM debates UNION SELECT name FROM topics ORDER BY 1", ["Energy", "a1", "a2", "a3"]),
        ("SELECT CAST(count(*) AS TEXT) AS id FROM debates", ["3"]),
        ("SELECT id FROM debates WHERE tenant_id = 'tenant-b'", []),
    ])
    func readsAreFiltered(sql: String, expected: [String]) async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        let rows = try await a.query(SQLiteQuery(unsafeSQL: sql))

        #expect(try rows.map { try $0.text($0.columnNames[0]) } == expected)
    }

    @Test("base tables are unreachable", arguments: [
        "SELECT * FROM \"debates$rows\"",
        "SELECT * FROM debates$rows",
        "SELECT * FROM [debates$rows]",
        "SELECT * FROM 'debates$rows'",
        "SELECT * FROM debates WHERE id IN (SELECT id FROM \"debates$rows\")",
        "WITH x AS (SELECT * FROM \"debates$rows\") SELECT * FROM x",
        "WITH debates AS (SELECT * FROM \"debates$rows\") SELECT * FROM debates",
        "WITH debates AS (SELECT * FROM 'debates$rows') SELECT * FROM debates",
        "SELECT * FROM tenancy_tenants",
        "SELECT * FROM tenancy_audit",
    ])
    func baseTablesDenied(sql: String) async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        let error = await isolationError { _ = try await a.query(SQLiteQuery(unsafeSQL: sql)) }

        #expect(error?.code == .denied)
    }

    @Test("a user view over a base table is denied")
    func userViewDenied() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        try await fixture.database.write { try $0.execute("CREATE VIEW all_debates AS SELECT * FROM \"debates$rows\"") }
        let a = try await fixture.handle(fixture.tenantA)

        let error = await isolationError { _ = try await a.query("SELECT * FROM all_debates") }

        #expect(error?.code == .denied)
        #expect(error?.message.contains("debates$rows") == true)
    }

    @Test("dangerous functions, tables and statements are denied", arguments: [
        "SELECT load_extension('/tmp/x.so')",
        "SELECT fts3_tokenizer('simple')",
        "CREATE VIRTUAL TABLE notes USING fts5(body)",
        "SELECT * FROM dbstat",
        "ATTACH DATABASE '/tmp/other.sqlite' AS other",
        "DETACH DATABASE main",
        "PRAGMA writable_schema = ON",
        "PRAGMA writable_schema",
        "DROP VIEW debates",
        "CREATE TRIGGER t AFTER INSERT ON topics BEGIN SELECT 1; END",
        "CREATE VIEW v AS SELECT * FROM debates",
        "ALTER TABLE app_settings ADD COLUMN x TEXT",
        "DROP TABLE app_settings",
        "CREATE TABLE mine (x)",
        "VACUUM INTO '/tmp/copy.sqlite'",
        "VACUUM",
        "BEGIN",
        "SELECT 1; DELETE FROM debates",
        "SELECT * FROM debates WHERE id = :id",
    ])
    func forbiddenStatements(sql: String) async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        let error = await isolationError { _ = try await a.query(SQLiteQuery(unsafeSQL: sql)) }

        #expect(error?.code == .denied)
        #expect(try await fixture.baseRows("debates") == ["tenant-a:a1", "tenant-a:a2", "tenant-a:a3", "tenant-b:b1", "tenant-b:b2"])
    }

    @Test("a denied statement writes an audit record")
    func denialAudited() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        _ = await isolationError { _ = try await a.query("SELECT * FROM \"debates$rows\"") }

        let records = try await fixture.manager.auditRecords(tenantID: fixture.tenantA.id)
        #expect(records.last?.action == .isolationDenied)
        #expect(records.last?.outcome == .denied)
    }

    @Test("a runaway recursive query is stopped and the connection serves the next one")
    func timeLimit() async throws {
        let fixture = try await IsolationFixture(readers: 1, statementTimeLimit: .milliseconds(300))
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)
        let started = ContinuousClock.now

        let error = await isolationError {
            _ = try await a.query("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n")
        }

        #expect(error?.code == .timeLimitExceeded)
        #expect(ContinuousClock.now - started < .seconds(5))
        let next = try await a.query("SELECT count(*) AS n FROM debates")
        #expect(try next[0].integer("n") == 3)
    }

    @Test("a huge blob is refused by the length limit")
    func lengthLimit() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        let error = await isolationError { _ = try await a.query("SELECT length(randomblob(900000000))") }

        #expect(error?.code == .lengthLimitExceeded)
    }

    @Test("insert applies column defaults and update counts rows")
    func defaultsAndCounts() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        let inserted = try await a.execute("INSERT INTO debates (id) VALUES ('a4')")
        let row = try await a.query("SELECT tenant_id, title, rounds FROM debates WHERE id = 'a4'")
        let updated = try await a.execute("UPDATE debates SET rounds = 9 WHERE id IN ('a1', 'a2', 'a3')")
        let deleted = try await a.execute("DELETE FROM debates WHERE id = 'a4'")

        #expect(inserted == 1)
        #expect(try row[0].text("tenant_id") == "tenant-a")
        #expect(try row[0].text("title") == "untitled")
        #expect(try row[0].integer("rounds") == 3)
        #expect(updated == 3)
        #expect(deleted == 1)
    }

    @Test("unsupported forms fail before anything runs", arguments: [
        "INSERT INTO debates (id) VALUES ('a9') RETURNING id",
        "INSERT INTO debates (id) VALUES ('a1') ON CONFLICT (tenant_id, id) DO UPDATE SET title = 'x'",
        "SELECT last_insert_rowid()",
    ])
    func unsupportedForms(sql: String) async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        let error = await isolationError { _ = try await a.query(SQLiteQuery(unsafeSQL: sql)) }

        #expect(error?.code == .unsupportedStatement)
        #expect(try await fixture.baseRows("debates") == ["tenant-a:a1", "tenant-a:a2", "tenant-a:a3", "tenant-b:b1", "tenant-b:b2"])
    }

    @Test("writes cannot reach another tenant's rows")
    func crossTenantWrites() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)
        let bBefore = try await fixture.handle(fixture.tenantB).query("SELECT id, title, rounds FROM debates ORDER BY id")

        let foreignInsert = await isolationError { try await a.execute("INSERT INTO debates (tenant_id, id) VALUES ('tenant-b', 'b9')") }
        let rehome = await isolationError { try await a.execute("UPDATE debates SET tenant_id = 'tenant-b' WHERE id = 'a1'") }
        let replaced = try await a.execute("INSERT OR REPLACE INTO debates (id, title) VALUES ('b1', 'replaced by A')")
        let deleted = try await a.execute("DELETE FROM debates")

        #expect(foreignInsert?.code == .denied)
        #expect(rehome?.code == .denied)
        #expect(replaced == 1)
        #expect(deleted == 4)
        #expect(try await fixture.baseRows("debates") == ["tenant-b:b1", "tenant-b:b2"])
        let bAfter = try await fixture.handle(fixture.tenantB).query("SELECT id, title, rounds FROM debates ORDER BY id")
        #expect(bAfter.map(\.values) == bBefore.map(\.values))
    }

    @Test("no tenant in scope fails closed in the library and in the database")
    func noTenant() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let enforcer = try TenantIsolationEnforcer(
            TenantDataIsolation(enforceRowLevelSecurity: true, isolateFileStorage: false), database: fixture.tenants)

        await #expect(throws: NoTenantInScopeError.self) {
            _ = try await enforcer.requireTenantScope { scope in try await scope.database.query("SELECT * FROM debates") }
        }

        let unbound = TenantStatementRunner(tenantID: nil, mode: .pooledTenant, timeLimit: .seconds(5))
        let rows = try await fixture.database.reader().withConnection { connection in
            try unbound.query("SELECT * FROM debates", connection: connection)
        }
        #expect(rows.isEmpty)
        let error = await isolationError {
            _ = try await fixture.database.writer.withConnection { connection in
                try unbound.execute("INSERT INTO debates (id) VALUES ('x1')", connection: connection)
            }
        }
        #expect(error?.code == .denied)
        #expect(try await fixture.baseRows("debates").count == 5)
    }

    @Test("the enforcer binds the tenant in scope")
    func enforcerScope() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let enforcer = try TenantIsolationEnforcer(
            TenantDataIsolation(enforceRowLevelSecurity: true, isolateFileStorage: false), database: fixture.tenants)

        let ids = try await fixture.manager.withTenant(fixture.tenantB.id) { _ in
            try await enforcer.requireTenantScope { scope in
                try await scope.database.query("SELECT id FROM debates ORDER BY id").map { try $0.text("id") }
            }
        }

        #expect(ids == ["b1", "b2"])
    }

    @Test("one pooled connection serves A, then B, then no tenant")
    func connectionReuse() async throws {
        let fixture = try await IsolationFixture(readers: 1)
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)
        let b = try await fixture.handle(fixture.tenantB)
        let sql: SQLiteQuery = "SELECT id FROM debates ORDER BY id"

        let first = try await a.query(sql).map { try $0.text("id") }
        let second = try await b.query(sql).map { try $0.text("id") }
        let unbound = try await fixture.database.reader().withConnection { connection in
            try connection.query("SELECT count(*) AS n FROM debates")[0].integer("n")
        }

        #expect(first == ["a1", "a2", "a3"])
        #expect(second == ["b1", "b2"])
        #expect(unbound == 0)
    }

    @Test("a failed transaction leaves nothing and binds nothing")
    func failedTransaction() async throws {
        let fixture = try await IsolationFixture(readers: 1)
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        _ = await isolationError {
            try await a.transaction { transaction in
                try transaction.execute("INSERT INTO debates (id) VALUES ('a7')")
                try transaction.execute("INSERT INTO debates (tenant_id, id) VALUES ('tenant-b', 'b7')")
            }
        }
        let b = try await fixture.handle(fixture.tenantB).query("SELECT id FROM debates ORDER BY id").map { try $0.text("id") }

        #expect(try await fixture.baseRows("debates") == ["tenant-a:a1", "tenant-a:a2", "tenant-a:a3", "tenant-b:b1", "tenant-b:b2"])
        #expect(b == ["b1", "b2"])
    }

    @Test("interpolated values are bound, never spliced")
    func interpolationBinds() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)
        let hostile = "x' OR tenant_id = 'tenant-b"

        let query: SQLiteQuery = "SELECT id FROM debates WHERE title = \(hostile)"
        let rows = try await a.query(query)

        #expect(query.sql == "SELECT id FROM debates WHERE title = ?")
        #expect(query.bindings == [.text(hostile)])
        #expect(rows.isEmpty)
    }

    @Test("rows decode into Swift values")
    func decoding() async throws {
        struct Debate: Decodable, Equatable {
            let id: String
            let title: String
            let rounds: Int
            let topic_id: String?
        }
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        let debates = try await a.query("SELECT id, title, rounds, topic_id FROM debates WHERE id = \("a1")", as: Debate.self)

        #expect(debates == [Debate(id: "a1", title: "Debate a1", rounds: 3, topic_id: "t1")])
    }
}
