import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

@Suite("SQLite isolation verifier")
struct SQLiteIsolationVerifierTests {
    @Test("a correctly protected database passes every check")
    func clean() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }

        let report = try await SQLiteIsolationVerifier(fixture.tenants).verify()

        #expect(report.findings == [])
        #expect(report.tables.map(\.name) == ["debates", "topics"])
        #expect(report.tables.allSatisfy { $0.filtered && $0.writesConfined && $0.keyLeadsWithTenantID })
        #expect(report.probes.filter { !$0.passed }.map(\.name) == [])
        #expect(report.probes.count == 13)
        #expect(report.passed)
    }

    @Test("the probes leave nothing behind")
    func probesRollBack() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }

        _ = try await SQLiteIsolationVerifier(fixture.tenants).verify()

        let leftovers = try await fixture.database.read { connection in
            try connection.query("SELECT name FROM sqlite_schema WHERE name LIKE 'isolation_probe%'").count
        }
        #expect(leftovers == 0)
        #expect(try await fixture.tenants.protectedTables() == ["debates", "topics"])
        #expect(try await fixture.baseRows("debates").count == 5)
    }

    @Test("a user view over a base table is reported")
    func userView() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        try await fixture.database.write { try $0.execute("CREATE VIEW leak AS SELECT * FROM \"debates$rows\"") }

        let report = try await SQLiteIsolationVerifier(fixture.tenants).verify()

        #expect(report.findings.map(\.subject) == ["leak"])
        #expect(!report.passed)
    }

    @Test("an unprotected table with a tenant_id column is reported")
    func unprotectedTable() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        try await fixture.database.write {
            try $0.execute("CREATE TABLE invoices (tenant_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant_id, id))")
        }

        let report = try await SQLiteIsolationVerifier(fixture.tenants).verify()

        #expect(report.findings.map(\.subject) == ["invoices"])
        #expect(report.findings.first?.message.contains("not protected") == true)
    }

    @Test("a dropped trigger is reported")
    func droppedTrigger() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        try await fixture.database.write { try $0.execute("DROP TRIGGER \"topics$update\"") }

        let report = try await SQLiteIsolationVerifier(fixture.tenants).verify()

        #expect(report.findings.map(\.subject) == ["topics"])
        #expect(report.tables.first { $0.name == "topics" }?.writesConfined == false)
    }

    @Test("a plain SQLite connection cannot read a protected view")
    func foreignConnection() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }

        let report = try await SQLiteIsolationVerifier(fixture.tenants).verify()

        let probe = report.probes.first { $0.name == "a connection without the library's function fails closed" }
        #expect(probe?.passed == true)
        #expect(probe?.detail.contains("no such function: current_tenant") == true)
    }
}

@Suite("SQLite isolation verifier, altered objects")
struct SQLiteIsolationVerifierAlteredTests {
    @Test("a view altered to show every row is reported")
    func alteredView() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        try await fixture.database.write { connection in
            try connection.execute("DROP VIEW debates")
            try connection.execute("CREATE VIEW debates AS SELECT tenant_id, id, title, rounds, topic_id FROM \"debates$rows\" WHERE tenant_id = current_tenant() OR 1")
        }

        let report = try await SQLiteIsolationVerifier(fixture.tenants).verify()

        #expect(report.tables.first { $0.name == "debates" }?.filtered == false)
        #expect(report.findings.map(\.subject).contains("debates"))
        #expect(!report.passed)
    }

    @Test("protecting again repairs an altered view")
    func repair() async throws {
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        try await fixture.database.write { connection in
            try connection.execute("DROP VIEW debates")
            try connection.execute("CREATE VIEW debates AS SELECT tenant_id, id, title, rounds, topic_id FROM \"debates$rows\"")
        }
        let tenants = fixture.tenants

        try await fixture.manager.withPlatformScope(reason: "repair") { try await tenants.protect(table: "debates") }
        let report = try await SQLiteIsolationVerifier(tenants).verify()

        #expect(report.passed)
    }
}
