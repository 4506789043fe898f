import Foundation
import TenancySQLite
import Testing

/// End-to-end tests of `demo`.
@Suite struct DemoCommandTests {
    @Test func demoPrintsSummary() async throws {
        let result = try await TenancyExecutable.run(["demo"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("== Summary =="))
        #expect(result.field("Tenants created") == "4")
        #expect(result.field("Scoped tasks") == "12, 12 saw only their own tenant")
        #expect(result.field("Rejected") == "'globex' with TenantSuspendedError")
        #expect(result.field("Tenants by status") == "1 trial, 1 active, 1 suspended, 1 deleted")
        #expect(result.field("Debates read") == "3 by 'acme-corporation', 2 by 'umbrella-labs', each only its own")
        #expect(result.field("Denied") == "2 cross-tenant statements, 2 audit records written")
        #expect(result.field("Purged") == "'umbrella-labs', 3 items removed")
        let path = try #require(result.field("Database"))
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(result.stdout.contains("  tenancy sql --tenant acme-corporation \"SELECT * FROM debates\" --database sqlite:\(path)\n"))
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    @Test func demoShowsIsolation() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("demo")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("""
            As acme-corporation: SELECT * FROM debates
            tenant_id         id  title
            acme-corporation  d1  Carbon tax
            acme-corporation  d2  Four-day week
            acme-corporation  d3  Nuclear power

            (3 rows)

            As umbrella-labs: SELECT * FROM debates
            tenant_id      id  title
            umbrella-labs  d1  Remote work
            umbrella-labs  d2  untitled

            (2 rows)
            """))
        #expect(result.stdout.contains("""
              SELECT * FROM "debates$rows"
                -> IsolationError(denied): statement denied: it names the library object 'debates$rows'; tenant statements use the protected views
              UPDATE debates SET tenant_id = 'umbrella-labs'
                -> IsolationError(denied): statement denied: tenant_id cannot be changed
            """))
        #expect(result.stdout.contains("  acme-corporation  isolation.statement-denied  denied   statement denied: tenant_id cannot be changed\n"))
        #expect(result.stdout.contains("\nsqlite-protected-rows  2        "))
        #expect(result.stdout.contains("\nregistry               1        "))

        let audit = try await workspace.run("audit", "acme-corporation", "--json")
        let denials = try audit.jsonArray().filter { $0["action"] as? String == "isolation.statement-denied" }
        #expect(denials.count == 2)

        let verify = try await workspace.run("verify")
        #expect(verify.status == 0, "\(verify.stdout)")
    }

    @Test func demoIgnoresEnvironmentDatabase() async throws {
        let workspace = try Workspace()
        let result = try await TenancyExecutable.run(["demo"], environment: ["TENANCY_DATABASE_URL": workspace.databaseURL])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!workspace.databaseExists)
        let path = try #require(result.field("Database"))
        #expect(path != workspace.databasePath)
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    @Test func demoJSONWithDatabaseOption() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("demo", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try result.jsonObject()
        #expect(summary["databasePath"] as? String == workspace.databasePath)
        #expect(summary["tenantsCreated"] as? Int == 4)
        #expect(summary["scopedTasks"] as? Int == 12)
        #expect(summary["scopedTasksWithOwnTenant"] as? Int == 12)
        #expect(summary["tenantsByStatus"] as? [String: Int] == ["active": 1, "trial": 1, "suspended": 1, "deleted": 1])
        #expect(summary["rejectedTenantID"] as? String == "globex")
        #expect(summary["rejectionError"] as? String == "TenantSuspendedError")
        let receipt = try #require(summary["receipt"] as? [String: Any])
        #expect(receipt["tenantID"] as? String == "umbrella-labs")
        #expect(receipt["totalRemoved"] as? Int == 3)
        let steps = try #require(receipt["steps"] as? [[String: Any]])
        #expect(steps.map { $0["purger"] as? String } == ["sqlite-protected-rows", "registry"])
        #expect(steps.map { $0["removed"] as? Int } == [2, 1])
        let isolation = try #require(summary["isolation"] as? [String: Any])
        #expect(isolation["rowsSeen"] as? [String: Int] == ["acme-corporation": 3, "umbrella-labs": 2])
        #expect(isolation["deniedStatements"] as? Int == 2)
        #expect(isolation["deniedAuditRecords"] as? Int == 2)
        #expect(workspace.databaseExists)

        let list = try await workspace.run("list", "--json")
        #expect(try list.jsonArray().map { $0["id"] as? String } == ["acme-corporation", "globex", "initech", "umbrella-labs"])
    }

    @Test func demoTwiceOnOneDatabase() async throws {
        let workspace = try Workspace()
        _ = try await workspace.run("demo", "--json")
        let second = try await workspace.run("demo", "--json")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try second.jsonObject()["tenantsCreated"] as? Int == 4)
        let list = try await workspace.run("list", "--json")
        #expect(try list.jsonArray().count == 8)

        let isolation = try #require(try second.jsonObject()["isolation"] as? [String: Any])
        let rowsSeen = try #require(isolation["rowsSeen"] as? [String: Int])
        #expect(rowsSeen.values.sorted() == [2, 3])
        #expect(!rowsSeen.keys.contains("acme-corporation"))
    }

    @Test func demoSummaryCountsOnlyItsTenants() async throws {
        let fresh = try Workspace()
        let existing = try Workspace()
        try await existing.createTenant(id: "acme")
        try await existing.createTenant(id: "hooli", extra: ["--trial"])
        _ = try await existing.run("suspend", "hooli")

        let freshRun = try await fresh.run("demo", "--json")
        let existingRun = try await existing.run("demo", "--json")
        #expect(existingRun.status == 0, "\(existingRun.stderr)")
        let summary = try existingRun.jsonObject()
        #expect(summary["tenantsCreated"] as? Int == 4)
        #expect(summary["tenantsByStatus"] as? [String: Int] == ["active": 1, "trial": 1, "suspended": 1, "deleted": 1])
        #expect(summary["auditRecords"] as? Int == (try freshRun.jsonObject()["auditRecords"] as? Int))
    }

    @Test func demoStopsAtForeignDebatesTable() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let database = try SQLiteDatabase(path: workspace.databasePath)
        try await database.write { connection in
            try connection.executeScript("CREATE TABLE debates (id INTEGER PRIMARY KEY, title TEXT)")
        }

        let result = try await workspace.run("demo")
        #expect(result.status == 1)
        #expect(result.stderr == "error: demo failed: the database already has an unprotected object named 'debates'; run the demo on a new database\n")
        let rows = try await database.read { connection in
            try connection.query("SELECT type FROM sqlite_schema WHERE name = 'debates'").map { try $0.text("type") }
        }
        #expect(rows == ["table"])
        let list = try await workspace.run("list", "--json")
        #expect(try list.jsonArray().map { $0["id"] as? String } == ["acme"])
    }

    @Test func demoHelpWarnsAboutExistingRegistry() async throws {
        let result = try await TenancyExecutable.run(["demo", "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("With --database naming an existing registry, the demo writes into it: four new demo"))
    }

    @Test func demoRejectsArgument() async throws {
        let result = try await TenancyExecutable.run(["demo", "fast"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("usage: tenancy demo [--database URL] [--json]"))
    }
}
