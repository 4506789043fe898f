import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

/// SQLite's internal tables contain state shared by every tenant of the file, so tenant SQL must
/// not read or change them.
@Suite("SQLite internal tables in a tenant scope")
struct SQLiteInternalTableTests {
    @Test("sqlite_sequence is denied", arguments: [
        "UPDATE sqlite_sequence SET seq = 9223372036854775807",
        "DELETE FROM sqlite_sequence",
        "INSERT INTO sqlite_sequence (name, seq) VALUES ('x', 1)",
        "SELECT seq FROM sqlite_sequence",
    ])
    func sequenceTableDenied(sql: String) async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        let error = await isolationError { _ = try await a.query(SQLiteQuery(unsafeSQL: sql)) }

        #expect(error?.code == .denied)
        #expect(error?.message.contains("sqlite_sequence") == true)
    }

    @Test("audit trail still appends after an attempt on sqlite_sequence")
    func auditSurvivesSequenceAttack() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        _ = try? await a.execute("UPDATE sqlite_sequence SET seq = 9223372036854775807")
        let record = AuditRecord(
            time: Date().truncatedToMilliseconds, tenantID: fixture.tenantB.id, principalID: nil,
            action: .isolationDenied, outcome: .denied, detail: "probe")
        let stored = try await fixture.manager.audit.append(record)

        #expect(try #require(stored.sequence) < 1_000)
    }

    @Test("an application table with AUTOINCREMENT still takes tenant inserts")
    func autoincrementTableWorks() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        try await fixture.database.write { connection in
            try connection.execute("CREATE TABLE app_log (number INTEGER PRIMARY KEY AUTOINCREMENT, message TEXT NOT NULL)")
        }
        let a = try await fixture.handle(fixture.tenantA)

        let changed = try await a.execute("INSERT INTO app_log (message) VALUES ('hello')")

        #expect(changed == 1)
        let numbers = try await fixture.database.read { connection in
            try connection.query("SELECT number FROM app_log").map { try $0.integer("number") }
        }
        #expect(numbers == [1])
    }
}

extension SQLiteInternalTableTests {
    @Test("sqlite_stmt is denied on readers and the writer")
    func statementTableDenied() async throws {
        let fixture = try await IsolationFixture(readers: 1)
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)
        let b = try await fixture.handle(fixture.tenantB)
        _ = try await b.query(SQLiteQuery(unsafeSQL: "SELECT id FROM topics WHERE name = 'Secret topic of B'"))

        let readerError = await isolationError { _ = try await a.query("SELECT sql FROM sqlite_stmt") }
        let writerError = await isolationError {
            _ = try await a.transaction { transaction in try transaction.query("SELECT sql FROM sqlite_stmt") }
        }

        #expect(readerError?.code == .denied)
        #expect(writerError?.code == .denied)
    }

    @Test("schema tables stay readable", arguments: ["sqlite_schema", "sqlite_master", "main.sqlite_schema", "sqlite_temp_schema"])
    func schemaTablesReadable(table: String) async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        let rows = try await a.query(SQLiteQuery(unsafeSQL: "SELECT count(*) AS objects FROM \(table) WHERE name = 'debates'"))

        #expect(try rows.map { try $0.integer("objects") } == [table == "sqlite_temp_schema" ? 0 : 1])
    }
}

@Suite("SQLite connection counters in a tenant scope")
struct SQLiteConnectionCounterTests {
    @Test("change counters are denied in the pool", arguments: ["SELECT total_changes() AS count", "SELECT changes() AS count"])
    func changeCountersDenied(sql: String) async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)
        let b = try await fixture.handle(fixture.tenantB)
        try await b.execute("UPDATE debates SET rounds = 5")

        let error = await isolationError { _ = try await a.query(SQLiteQuery(unsafeSQL: sql)) }

        #expect(error?.code == .denied)
    }

    @Test("execute still counts changed rows without the SQL counters")
    func executeCountsRows() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)

        let changed = try await a.execute("UPDATE debates SET rounds = 7")

        #expect(changed == 3)
    }
}
