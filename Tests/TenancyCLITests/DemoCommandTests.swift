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
        #expect(result.field("Purged") == "'umbrella-labs', 5 items removed")
        let quotaRejected = try #require(result.field("Quota rejected"))
        #expect(quotaRejected.hasPrefix("'umbrella-labs' debates after 10 of 10, retry after "))
        #expect(result.field("Refunded") == "1 debates charge, 9 of 10 used afterwards")
        #expect(result.field("Rate limited") == "'initech' 5 of 7 requests admitted on key api, Retry-After 6 s")
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

    @Test func demoRejectsOptionsItCannotUse() async throws {
        for option in ["--schema", "--maintenance-database"] {
            let result = try await TenancyExecutable.run(["demo", option, "x"])
            #expect(result.status == 2)
            #expect(result.stderr.hasPrefix("error: option '\(option)' does not apply to the demo"))
        }
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

    @Test func demoShowsQuotaAndRateLimitSections() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("demo")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("""
            10 admitted, then charge 11 is rejected with QuotaExceeded:
              quota 'debates' exceeded for tenant 'umbrella-labs': 10 used + 1 requested would pass the day limit of 10; retry after
            """))
        #expect(result.stdout.contains("""
              quotas.refund(charge)        -> true, debates used 10 -> 9
              quotas.refund(charge) again  -> false, debates used stays 9
            """))
        #expect(result.stdout.contains("\ndebates  day     9     10     1          [#########-] 90%  warning  "))
        #expect(result.stdout.contains("""
            REQUEST  RESULT    RateLimit           Retry-After
            1        allowed   "starter";r=4;t=6   -
            2        allowed   "starter";r=3;t=12  -
            3        allowed   "starter";r=2;t=18  -
            4        allowed   "starter";r=1;t=24  -
            5        allowed   "starter";r=0;t=30  -
            6        rejected  "starter";r=0;t=30  6
            7        rejected  "starter";r=0;t=30  6

            The first rejected request gets these header fields:
              HTTP/1.1 429 Too Many Requests
              RateLimit-Policy: "starter";q=5;w=30
              RateLimit: "starter";r=0;t=30
              Retry-After: 6
            """))
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
        #expect(receipt["totalRemoved"] as? Int == 5)
        let steps = try #require(receipt["steps"] as? [[String: Any]])
        #expect(steps.map { $0["purger"] as? String } == ["quotas", "rate-limits", "sqlite-protected-rows", "registry"])
        #expect(steps.map { $0["removed"] as? Int } == [2, 0, 2, 1])
        let quotas = try #require(summary["quotas"] as? [String: Any])
        #expect(quotas["tenantID"] as? String == "umbrella-labs")
        #expect(quotas["quota"] as? String == "debates")
        #expect(quotas["limit"] as? Int == 10)
        #expect(quotas["admitted"] as? Int == 10)
        #expect(quotas["usedAfterRefund"] as? Int == 9)
        let retryAfter = try #require(quotas["retryAfterSeconds"] as? Int)
        #expect(retryAfter > 0)
        #expect(retryAfter <= 86_400)
        let rateLimits = try #require(summary["rateLimits"] as? [String: Any])
        #expect(rateLimits["tenantID"] as? String == "initech")
        #expect(rateLimits["key"] as? String == "api")
        #expect(rateLimits["requests"] as? Int == 7)
        #expect(rateLimits["admitted"] as? Int == 5)
        #expect(rateLimits["retryAfterSeconds"] as? Int == 6)
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
        #expect(result.stderr.contains("usage: tenancy demo [--database URL] [--admin-database URL] [--json]"))
    }
}
