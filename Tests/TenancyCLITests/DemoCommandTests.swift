import Foundation
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
        let path = try #require(result.field("Database"))
        #expect(FileManager.default.fileExists(atPath: path))
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
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
    }

    @Test func demoRejectsArgument() async throws {
        let result = try await TenancyExecutable.run(["demo", "fast"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("usage: tenancy demo [--database URL] [--json]"))
    }
}
