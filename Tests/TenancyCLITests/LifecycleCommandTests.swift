import Foundation
import Testing

/// End-to-end tests of `suspend`, `activate`, `delete` and `purge-expired`.
@Suite struct LifecycleCommandTests {
    @Test func suspendText() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("suspend", "acme", "--reason", "billing overdue")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "Suspended tenant 'acme': active -> suspended.\n")
    }

    @Test func suspendJSONOptionBeforeID() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("suspend", "--reason=billing overdue", "--json", "acme")
        #expect(result.status == 0, "\(result.stderr)")
        let tenant = try result.jsonObject()
        #expect(tenant["id"] as? String == "acme")
        #expect(tenant["status"] as? String == "suspended")
        #expect(tenant["statusBeforeSuspension"] as? String == "active")
        #expect(tenant["suspensionReason"] as? String == "billing overdue")
        #expect(tenant["changed"] as? Bool == true)
    }

    @Test func suspendTwiceJSONNotChanged() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        _ = try await workspace.run("suspend", "acme")
        let result = try await workspace.run("suspend", "acme", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let tenant = try result.jsonObject()
        #expect(tenant["status"] as? String == "suspended")
        #expect(tenant["changed"] as? Bool == false)
    }

    @Test func activateJSONChangedFlag() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        _ = try await workspace.run("suspend", "acme")
        let first = try await workspace.run("activate", "acme", "--json")
        let second = try await workspace.run("activate", "acme", "--json")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try first.jsonObject()["changed"] as? Bool == true)
        #expect(try second.jsonObject()["changed"] as? Bool == false)
        #expect(try second.jsonObject()["status"] as? String == "active")
    }

    @Test(arguments: ["suspend", "activate", "delete"])
    func helpDocumentsChangedKey(_ name: String) async throws {
        let result = try await TenancyExecutable.run([name, "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains(#"With --json the output has "changed": true when the command changed the tenant, and"#))
        #expect(result.stdout.contains(#""changed": false when the tenant was already in the requested state."#))
    }

    @Test func suspendTwiceChangesNothing() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        _ = try await workspace.run("suspend", "acme")
        let result = try await workspace.run("suspend", "acme")
        #expect(result.status == 0)
        #expect(result.stdout == "Tenant 'acme' is already suspended; nothing changed.\n")
    }

    @Test func suspendMissingReasonValue() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await TenancyExecutable.run(["suspend", "acme", "--database", workspace.databaseURL, "--reason"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: missing value for option '--reason'"))
        #expect(result.stderr.contains("usage: tenancy suspend ID [--reason TEXT] [--database URL] [--json]"))
        let show = try await workspace.run("show", "acme", "--json")
        #expect(try show.jsonObject()["status"] as? String == "active")
    }

    @Test func suspendMissingTenant() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("suspend", "ghost")
        #expect(result.status == 3)
        #expect(result.stderr.contains("error: tenant 'ghost' not found"))
    }

    @Test func activateRestoresTrial() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme", extra: ["--trial"])
        _ = try await workspace.run("suspend", "acme")
        let result = try await workspace.run("activate", "acme", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let tenant = try result.jsonObject()
        #expect(tenant["status"] as? String == "trial")
        #expect(tenant["statusBeforeSuspension"] is NSNull)
        #expect(tenant["suspensionReason"] is NSNull)
    }

    @Test func activateText() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        _ = try await workspace.run("suspend", "acme")
        let result = try await workspace.run("activate", "acme")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "Activated tenant 'acme': suspended -> active.\n")
    }

    @Test func activateRestoresCancelled() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        _ = try await workspace.run("delete", "acme")
        let result = try await workspace.run("activate", "acme", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let tenant = try result.jsonObject()
        #expect(tenant["status"] as? String == "active")
        #expect(tenant["deletedAt"] is NSNull)
    }

    @Test func activateDeletedIsRefused() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        _ = try await workspace.run("delete", "acme", "--purge")
        let result = try await workspace.run("activate", "acme")
        #expect(result.status == 4)
        #expect(result.stderr == "error: invalid transition of tenant 'acme' from deleted to active: deleted is final\n")
    }

    @Test func activateMissingTenant() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("activate", "ghost")
        #expect(result.status == 3)
    }

    @Test func activateExtraArgument() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("activate", "acme", "globex")
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: too many arguments: expected at most 1"))
        #expect(result.stderr.contains("usage: tenancy activate ID [--database URL] [--json]"))
    }

    @Test func deleteCancels() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("delete", "acme")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("Cancelled tenant 'acme'. 'tenancy activate acme' restores it until "))
    }

    @Test func deleteJSONIsCancelledTenant() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("delete", "--json", "acme")
        #expect(result.status == 0, "\(result.stderr)")
        let tenant = try result.jsonObject()
        #expect(tenant["status"] as? String == "cancelled")
        #expect(tenant["name"] as? String == "Acme Corporation")
        #expect(tenant["deletedAt"] is String)
        #expect(tenant["changed"] as? Bool == true)
    }

    @Test func deleteTwiceJSONNotChanged() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        _ = try await workspace.run("delete", "acme")
        let result = try await workspace.run("delete", "acme", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let tenant = try result.jsonObject()
        #expect(tenant["status"] as? String == "cancelled")
        #expect(tenant["changed"] as? Bool == false)
    }

    @Test func deletePurgeJSONReceipt() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("delete", "acme", "--purge", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let receipt = try result.jsonObject()
        #expect(receipt["tenantID"] as? String == "acme")
        #expect(receipt["totalRemoved"] as? Int == 1)
        #expect(receipt["requestedBy"] is NSNull)
        let steps = try #require(receipt["steps"] as? [[String: Any]])
        #expect(steps.map { $0["purger"] as? String } == ["quotas", "rate-limits", "registry"])
        #expect(steps.map { $0["removed"] as? Int } == [0, 0, 1])
        #expect(receipt["changed"] as? Bool == true)

        let show = try await workspace.run("show", "acme", "--json")
        let tombstone = try show.jsonObject()
        #expect(tombstone["status"] as? String == "deleted")
        #expect(tombstone["name"] as? String == "")
        #expect(tombstone["adminEmail"] is NSNull)
    }

    @Test func deletePurgeAgainReturnsStoredReceipt() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let first = try await workspace.run("delete", "acme", "--purge", "--json")
        let second = try await workspace.run("delete", "acme", "--purge", "--json")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try second.jsonObject()["completedAt"] as? String == first.jsonObject()["completedAt"] as? String)
        #expect(try first.jsonObject()["changed"] as? Bool == true)
        #expect(try second.jsonObject()["changed"] as? Bool == false)
    }

    @Test func deletePurgeAgainTextSaysAlreadyDeleted() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let first = try await workspace.run("delete", "acme", "--purge")
        let second = try await workspace.run("delete", "acme", "--purge")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.hasPrefix("Tenant 'acme' was already deleted; nothing changed. Its stored receipt:\n\n"))
        #expect(!second.stdout.contains("purged its data"))
        #expect(second.field("Completed") == first.field("Completed"))
        #expect(second.field("Items removed") == "1")
    }

    @Test func deletePurgeText() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("delete", "acme", "--purge")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("Deleted tenant 'acme' and purged its data.\n"))
        #expect(result.field("Tenant") == "acme")
        #expect(result.field("Items removed") == "1")
        #expect(result.stdout.contains("\nquotas       0        "))
        #expect(result.stdout.contains("\nrate-limits  0        "))
        #expect(result.stdout.contains("\nregistry     1        "))
    }

    @Test func cancelOfDeletedIsRefused() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        _ = try await workspace.run("delete", "acme", "--purge")
        let result = try await workspace.run("delete", "acme")
        #expect(result.status == 4)
        #expect(result.stderr.contains("error: invalid transition of tenant 'acme' from deleted to cancelled"))
    }

    @Test func deleteMissingTenant() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("delete", "ghost", "--purge")
        #expect(result.status == 3)
        #expect(result.stderr == "error: tenant 'ghost' not found: check the id with 'tenancy list'\n")
    }

    @Test func deleteFlagWithValue() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("delete", "acme", "--purge=yes")
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: option '--purge' is a flag and takes no value"))
        #expect(result.stderr.contains("usage: tenancy delete ID [--purge] [--database URL] [--json]"))
        let show = try await workspace.run("show", "acme", "--json")
        #expect(try show.jsonObject()["status"] as? String == "active")
    }

    @Test func purgeExpiredNothingDue() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        _ = try await workspace.run("delete", "acme")
        let text = try await workspace.run("purge-expired")
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout == "No tenants to purge.\n")
        let json = try await workspace.run("purge-expired", "--json")
        #expect(json.status == 0)
        #expect(try json.jsonArray().isEmpty)
        let show = try await workspace.run("show", "acme", "--json")
        #expect(try show.jsonObject()["status"] as? String == "cancelled")
    }

    @Test func purgeExpiredRejectsArgument() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("purge-expired", "acme")
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: unexpected argument: this command takes no positional arguments"))
        #expect(result.stderr.contains("usage: tenancy purge-expired [--database URL] [--json]"))
    }

    @Test func purgeExpiredWithoutDatabaseFails() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("purge-expired")
        #expect(result.status == 1)
        #expect(!workspace.databaseExists)
    }
}
