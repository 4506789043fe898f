import Foundation
import Tenancy
import TenancySQLite
import Testing

@testable import tenancy

/// A workspace whose registry has a protected table `debates` and two tenants with rows:
/// `tenant-a` has debates a1, a2, a3 and `tenant-b` has b1, b2.
struct IsolationWorkspace {
    let workspace: Workspace

    init() async throws {
        workspace = try Workspace()
        try await workspace.createTenant(id: "tenant-a", name: "Tenant A", email: "a@a.example")
        try await workspace.createTenant(id: "tenant-b", name: "Tenant B", email: "b@b.example")

        let database = try SQLiteDatabase(path: workspace.databasePath)
        let manager = try await TenantManager.sqlite(database)
        let tenants = try await SQLiteTenantDatabase(database, audit: manager.audit)
        try await database.write { connection in
            try connection.executeScript("""
                CREATE TABLE debates (
                    tenant_id TEXT NOT NULL,
                    id TEXT NOT NULL,
                    title TEXT NOT NULL DEFAULT 'untitled',
                    PRIMARY KEY (tenant_id, id)
                )
                """)
        }
        try await manager.withPlatformScope(reason: "test schema") {
            try await tenants.protect(table: "debates")
        }
        for (id, debates) in [("tenant-a", ["a1", "a2", "a3"]), ("tenant-b", ["b1", "b2"])] {
            let handle = try await tenants.handle(for: try await manager.tenant(TenantID(validating: id)))
            for debate in debates {
                try await handle.execute("INSERT INTO debates (id, title) VALUES (\(debate), \("Debate " + debate))")
            }
        }
    }

    func run(_ arguments: String...) async throws -> CLIResult {
        try await TenancyExecutable.run(arguments + ["--database", workspace.databaseURL])
    }

    /// Runs `sql` on the registry file through a platform connection, which the isolation
    /// guards do not check.
    func writeAsPlatform(_ sql: String) async throws {
        let database = try SQLiteDatabase(path: workspace.databasePath)
        try await database.write { connection in
            try connection.executeScript(sql)
        }
    }
}

/// End-to-end tests of `verify` and `sql`.
@Suite struct IsolationCommandTests {
    // MARK: - verify

    @Test func verifyCleanDatabasePasses() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("verify")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("""
            Protected tables:
            TABLE    FILTERED  WRITES CONFINED  KEY SHAPE
            debates  yes       yes              ok

            Findings: none.

            Probes:
            RESULT  PROBE
            """))
        #expect(result.stdout.contains("\npassed  tenant A cannot update B's rows "))
        #expect(result.stdout.contains("\npassed  debates: no tenant and an unknown tenant see nothing "))
        #expect(!result.stdout.contains("\nfailed  "))
        #expect(result.stdout.hasSuffix("\n\nPassed: 0 findings, 12 of 12 probes passed.\n"))
        #expect(result.stderr == "")
    }

    @Test func verifyJSONReport() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("verify", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let report = try result.jsonObject()
        #expect(report["passed"] as? Bool == true)
        let tables = try #require(report["tables"] as? [[String: Any]])
        #expect(tables.count == 1)
        #expect(tables.first?["name"] as? String == "debates")
        #expect(tables.first?["filtered"] as? Bool == true)
        #expect(tables.first?["writesConfined"] as? Bool == true)
        #expect(tables.first?["keyLeadsWithTenantID"] as? Bool == true)
        #expect((report["findings"] as? [Any])?.count == 0)
        let probes = try #require(report["probes"] as? [[String: Any]])
        #expect(probes.count == 12)
        #expect(probes.allSatisfy { $0["passed"] as? Bool == true })
        #expect(probes.allSatisfy { $0["detail"] is String })
    }

    @Test func verifyFindsViewOverBaseTable() async throws {
        let fixture = try await IsolationWorkspace()
        try await fixture.writeAsPlatform(#"CREATE VIEW leak AS SELECT * FROM "debates$rows""#)
        let result = try await fixture.run("verify")
        #expect(result.status == 4)
        #expect(result.stdout.contains("""
            Findings:
            SUBJECT  FINDING
            leak     the view leak reads or writes a protected base table directly; tenant statements through it are denied, so rewrite it over the view
            """))
        #expect(result.stdout.hasSuffix("\n\nFailed: 1 finding, 12 of 12 probes passed.\n"))
        #expect(result.stderr == """
            error: the isolation check failed: 1 finding and 0 failed probes; fix the objects listed and run 'tenancy verify' again

            """)
    }

    @Test func verifyJSONFinding() async throws {
        let fixture = try await IsolationWorkspace()
        try await fixture.writeAsPlatform(#"CREATE VIEW leak AS SELECT * FROM "debates$rows""#)
        let result = try await fixture.run("verify", "--json")
        #expect(result.status == 4)
        let report = try result.jsonObject()
        #expect(report["passed"] as? Bool == false)
        let findings = try #require(report["findings"] as? [[String: Any]])
        #expect(findings.count == 1)
        #expect(findings.first?["subject"] as? String == "leak")
    }

    @Test func verifyFindsUnprotectedTenantTable() async throws {
        let fixture = try await IsolationWorkspace()
        try await fixture.writeAsPlatform("CREATE TABLE notes (tenant_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant_id, id))")
        let result = try await fixture.run("verify")
        #expect(result.status == 4)
        #expect(result.stdout.contains("\nnotes    the table notes has a tenant_id column but is not protected; protect it with protect(table:)\n"))
    }

    @Test func verifyWithoutProtectedTables() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("verify")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("Protected tables: none.\n\nFindings: none.\n"))
        #expect(result.stdout.hasSuffix("\n\nPassed: 0 findings, 11 of 11 probes passed.\n"))
    }

    @Test func verifyMissingDatabase() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("verify")
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: no database at '\(workspace.databasePath)'"))
        #expect(!workspace.databaseExists)
    }

    // MARK: - purge

    @Test func deletePurgeRemovesProtectedRows() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("delete", "tenant-a", "--purge", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let receipt = try result.jsonObject()
        let steps = try #require(receipt["steps"] as? [[String: Any]])
        #expect(steps.map { $0["purger"] as? String } == ["quotas", "rate-limits", "sqlite-protected-rows", "registry"])
        #expect(steps.map { $0["removed"] as? Int } == [0, 0, 3, 1])
        #expect(receipt["totalRemoved"] as? Int == 4)

        let other = try await fixture.run("sql", "--tenant", "tenant-b", "SELECT id FROM debates ORDER BY id", "--json")
        #expect(try other.jsonArray().map { $0["id"] as? String } == ["b1", "b2"])
    }

    // MARK: - sql

    @Test func sqlSelectPrintsOwnRows() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a", "SELECT * FROM debates ORDER BY id")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            tenant_id  id  title
            tenant-a   a1  Debate a1
            tenant-a   a2  Debate a2
            tenant-a   a3  Debate a3

            (3 rows)

            """)
    }

    @Test func sqlOtherTenantSeesOwnRows() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "SELECT id FROM debates ORDER BY id", "--tenant", "tenant-b", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try result.jsonArray().map { $0["id"] as? String } == ["b1", "b2"])
    }

    @Test func sqlJSONValueTypes() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run(
            "sql", "--tenant", "tenant-a", "--json",
            "SELECT count(*) AS debates, NULL AS missing, x'0102ff' AS bytes, 1.5 AS ratio, 'a1' AS id, 'a1' AS id FROM debates")
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try result.jsonArray()
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row["debates"] as? Int == 3)
        #expect(row["missing"] is NSNull)
        #expect(row["bytes"] as? String == "AQL/")
        #expect(row["ratio"] as? Double == 1.5)
        #expect(row["id"] as? String == "a1")
        #expect(row["id:2"] as? String == "a1")
        #expect(row.count == 6)
    }

    @Test func sqlNoRows() async throws {
        let fixture = try await IsolationWorkspace()
        let text = try await fixture.run("sql", "--tenant", "tenant-a", "SELECT * FROM debates WHERE id = 'b1'")
        let json = try await fixture.run("sql", "--tenant", "tenant-a", "SELECT * FROM debates WHERE id = 'b1'", "--json")
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout == "No rows.\n")
        #expect(json.stdout == "[\n\n]\n")
    }

    @Test func sqlUpdatePrintsCount() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a", "UPDATE debates SET title = 'Renamed'")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "3 rows changed.\n")

        let other = try await fixture.run("sql", "--tenant", "tenant-b", "SELECT title FROM debates ORDER BY id", "--json")
        #expect(try other.jsonArray().map { $0["title"] as? String } == ["Debate b1", "Debate b2"])
    }

    @Test func sqlWriteJSONCount() async throws {
        let fixture = try await IsolationWorkspace()
        let insert = try await fixture.run("sql", "--tenant", "tenant-b", "--json", "/* a comment */ INSERT INTO debates (id) VALUES ('b3')")
        #expect(insert.status == 0, "\(insert.stderr)")
        #expect(try insert.jsonObject()["changed"] as? Int == 1)
        #expect(try insert.jsonObject().count == 1)

        let delete = try await fixture.run("sql", "--tenant", "tenant-b", "--json", "DELETE FROM debates WHERE id = 'a1'")
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(try delete.jsonObject()["changed"] as? Int == 0)

        let rows = try await fixture.run("sql", "--tenant", "tenant-b", "SELECT id, title FROM debates WHERE id = 'b3'", "--json")
        #expect(try rows.jsonArray().first?["title"] as? String == "untitled")
    }

    @Test func sqlStatementAfterDoubleDash() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await TenancyExecutable.run(
            ["sql", "--tenant", "tenant-a", "--database", fixture.workspace.databaseURL, "--", "-- a comment\nDELETE FROM debates"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "3 rows changed.\n")
    }

    @Test func sqlSingleRowChanged() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a", "DELETE FROM debates WHERE id = 'a2'")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "1 row changed.\n")
    }

    @Test func sqlBaseTableDenied() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a", #"SELECT * FROM "debates$rows""#)
        #expect(result.status == 4)
        #expect(result.stdout == "")
        #expect(result.stderr == "error: statement denied: it names the library object 'debates$rows'; tenant statements use the protected views\n")

        let audit = try await fixture.run("audit", "tenant-a", "--json")
        let denials = try audit.jsonArray().filter { $0["action"] as? String == "isolation.statement-denied" }
        #expect(denials.count == 1)
        #expect(denials.first?["outcome"] as? String == "denied")
        #expect(denials.first?["detail"] as? String == "statement denied: it names the library object 'debates$rows'; tenant statements use the protected views")
    }

    @Test func sqlReHomeDenied() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a", "UPDATE debates SET tenant_id = 'tenant-b'")
        #expect(result.status == 4)
        #expect(result.stderr == "error: statement denied: tenant_id cannot be changed\n")

        let other = try await fixture.run("sql", "--tenant", "tenant-b", "SELECT id FROM debates ORDER BY id", "--json")
        #expect(try other.jsonArray().map { $0["id"] as? String } == ["b1", "b2"])
    }

    @Test func sqlSchemaChangeDenied() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a", "DROP VIEW debates")
        #expect(result.status == 4)
        #expect(result.stderr.hasPrefix("error: statement denied: "))
    }

    @Test func sqlReturningIsUnsupported() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a", "INSERT INTO debates (id) VALUES ('a9') RETURNING id")
        #expect(result.status == 4)
        #expect(result.stderr.hasPrefix("error: RETURNING is not supported on protected tables"))
    }

    @Test func sqlTimeLimitStopsRunawayQuery() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run(
            "sql", "--tenant", "tenant-a", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r")
        #expect(result.status == 4)
        #expect(result.stderr == "error: statement interrupted: it ran past the statement time limit of 5 s; narrow it, or raise statementTimeLimit\n")
    }

    @Test func sqlLengthLimit() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a", "SELECT length(randomblob(900000000))")
        #expect(result.status == 4)
        #expect(result.stderr == "error: statement refused: a string or blob grew past the length limit\n")
    }

    @Test func sqlUnknownTenant() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "ghost", "SELECT 1")
        #expect(result.status == 3)
        #expect(result.stderr == "error: tenant 'ghost' not found: check the id with 'tenancy list'\n")
    }

    @Test func sqlSuspendedTenant() async throws {
        let fixture = try await IsolationWorkspace()
        _ = try await fixture.run("suspend", "tenant-a", "--reason", "billing overdue")
        let result = try await fixture.run("sql", "--tenant", "tenant-a", "SELECT * FROM debates")
        #expect(result.status == 4)
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("error: tenant 'tenant-a' is suspended (billing overdue)"))
    }

    @Test func sqlMissingTenantOption() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "SELECT 1")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: missing option '--tenant' (or '--platform' with '--reason' to read across tenants)\nusage: tenancy sql SQL [--tenant ID] [--platform] [--reason TEXT] [--database URL] [--json]\n"))
    }

    @Test func sqlInvalidTenantID() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "Tenant A", "SELECT 1")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: invalid tenant id \"Tenant A\""))
        #expect(result.stderr.contains("\nusage: tenancy sql SQL [--tenant ID] [--platform] [--reason TEXT] [--database URL] [--json]\n"))
    }

    @Test func sqlEmptyStatement() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a", "  ")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: missing SQL: the statement is empty\nusage: tenancy sql "))
    }

    @Test func sqlHelpNamesExitCodes() async throws {
        let result = try await TenancyExecutable.run(["sql", "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("usage: tenancy sql SQL [--tenant ID] [--platform] [--reason TEXT] [--database URL] [--json]\n"))
        #expect(result.stdout.contains("A suspended tenant exits with 4, an unknown one with 3."))
        #expect(result.stdout.contains("the statement time limit (5 seconds) or the length limit."))
        #expect(result.stdout.contains("in the audit trail as isolation.statement-denied."))
    }

    @Test func sqlPlatformNeedsPostgres() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--platform", "--reason", "count debates", "SELECT count(*) FROM debates")
        #expect(result.status == 2)
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix(
            "error: 'sql --platform' needs a PostgreSQL registry, where the maintenance role reads across tenants; on SQLite, run the statement as each tenant with --tenant ID\n"))
    }

    @Test func sqlReasonWithoutPlatform() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a", "--reason", "curious", "SELECT 1")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: option '--reason' applies only to '--platform': a statement run as a tenant needs no reason\n"))
    }

    @Test func sqlMissingStatement() async throws {
        let fixture = try await IsolationWorkspace()
        let result = try await fixture.run("sql", "--tenant", "tenant-a")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: missing argument SQL\n"))
    }
}

/// Unit tests of the helpers behind `sql`.
@Suite struct SQLOutputTests {
    @Test(arguments: zip(
        ["insert into t values (1)", "  -- note\n/* block */ UPDATE t SET a = 1", "Replace INTO t VALUES (1)", "DELETE FROM t",
         "SELECT 1", "WITH x AS (SELECT 1) DELETE FROM t", "/* unterminated", "", "(SELECT 1)"],
        [true, true, true, true, false, false, false, false, false]))
    func statementKind(_ sql: String, isWrite: Bool) {
        #expect(SQLStatementKind.isWrite(sql) == isWrite)
    }

    @Test func firstKeywordSkipsComments() {
        #expect(SQLStatementKind.firstKeyword("-- a\n  /* b */\n\tselect *") == "SELECT")
    }

    @Test func firstKeywordMissing() {
        #expect(SQLStatementKind.firstKeyword("  -- only a comment") == nil)
    }

    @Test func uniqueColumnNames() {
        #expect(SQLRowOutput.uniqueNames(["id", "id", "title", "id", "id:2"]) == ["id", "id:2", "title", "id:3", "id:2:2"])
    }

    @Test(arguments: zip(
        [SQLiteValue.null, .integer(-7), .real(2.5), .text("two\nlines\t"), .blob([0x00, 0xAB])],
        ["NULL", "-7", "2.5", "two\\nlines\\t", "x'00AB'"]))
    func cellFormat(_ value: SQLiteValue, expected: String) {
        #expect(IsolationCommands.cell(value) == expected)
    }
}

@Suite struct ProtectCommandTests {
    @Test func protectPutsTableBehindView() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "tenant-a", name: "Tenant A", email: "a@a.example")
        try await workspace.createTenant(id: "tenant-b", name: "Tenant B", email: "b@b.example")
        let database = try SQLiteDatabase(path: workspace.databasePath)
        try await database.write { connection in
            try connection.executeScript("""
                CREATE TABLE notes (tenant_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant_id, id));
                CREATE TABLE loose (id INTEGER PRIMARY KEY);
                """)
        }

        let protected = try await workspace.run("protect", "notes")
        #expect(protected.status == 0, "\(protected.stderr)")
        #expect(protected.stdout == "Protected table notes.\n")
        let again = try await workspace.run("protect", "notes", "--json")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try again.jsonObject()["protected"] as? Bool == true)

        _ = try await workspace.run("sql", "--tenant", "tenant-a", "INSERT INTO notes (id) VALUES ('a1')")
        _ = try await workspace.run("sql", "--tenant", "tenant-b", "INSERT INTO notes (id) VALUES ('b1')")
        let read = try await workspace.run("sql", "--tenant", "tenant-a", "SELECT tenant_id, id FROM notes")
        #expect(read.stdout == "tenant_id  id\ntenant-a   a1\n\n(1 row)\n")

        let unfit = try await workspace.run("protect", "loose")
        #expect(unfit.status == 4)
        #expect(unfit.stderr.hasPrefix("error: cannot protect 'loose': it has no tenant_id column"))
        let schema = try await workspace.run("protect", "notes", "--table-schema", "public")
        #expect(schema.status == 2)
        #expect(schema.stderr.hasPrefix("error: option '--table-schema' applies only to a postgres:// database"))
    }
}
