import Foundation
import Testing

/// End-to-end tests of `audit`.
@Suite struct AuditCommandTests {
    @Test func auditJSONOfOneTenant() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        try await workspace.createTenant(id: "globex", tier: "free")
        _ = try await workspace.run("suspend", "acme", "--reason", "billing")

        let result = try await workspace.run("audit", "acme", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let records = try result.jsonArray()
        #expect(records.map { $0["action"] as? String } == ["tenant.created", "tenant.status-changed"])
        #expect(records.map { $0["tenantID"] as? String } == ["acme", "acme"])
        #expect(records.map { $0["outcome"] as? String } == ["success", "success"])
        #expect(records.map { $0["detail"] as? String } == ["tier=business status=active", "active -> suspended; reason: billing"])
        #expect(records.map { $0["sequence"] as? Int } == [1, 3])
        #expect(records.first?["principalID"] is NSNull)
    }

    @Test func auditAllTenants() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        try await workspace.createTenant(id: "globex", tier: "free")
        let result = try await workspace.run("--json", "audit")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try result.jsonArray().map { $0["tenantID"] as? String } == ["acme", "globex"])
    }

    @Test func auditRecordsRefusals() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        _ = try await workspace.run("delete", "acme", "--purge")
        _ = try await workspace.run("activate", "acme")
        let result = try await workspace.run("audit", "acme", "--json")
        let last = try #require(try result.jsonArray().last)
        #expect(last["action"] as? String == "tenant.status-changed")
        #expect(last["outcome"] as? String == "denied")
        #expect(last["detail"] as? String == "deleted -> active")
    }

    @Test func auditText() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("audit", "acme")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first == "SEQ  TIME                      TENANT  ACTION          OUTCOME  DETAIL")
        #expect(lines.last?.hasPrefix("1    ") == true)
        #expect(lines.last?.hasSuffix("  acme    tenant.created  success  tier=business status=active") == true)
    }

    @Test func auditMissingTenant() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("audit", "ghost")
        #expect(result.status == 3)
        #expect(result.stderr == "error: tenant 'ghost' not found: check the id with 'tenancy list'\n")
    }

    @Test func auditUnknownOption() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("audit", "--limit", "5")
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: unknown option '--limit'"))
        #expect(result.stderr.contains("usage: tenancy audit [ID] [--database URL] [--json]"))
    }
}
