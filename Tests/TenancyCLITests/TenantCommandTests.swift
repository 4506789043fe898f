import Foundation
import Testing

/// End-to-end tests of `create`, `list` and `show`, run through the built executable.
@Suite struct TenantCommandTests {
    @Test func createPrintsTenant() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run(
            "create", "--name", "Acme Corporation", "--tier", "business", "--admin-email", "admin@acme.example")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("Created tenant 'acme-corporation'.\n"))
        #expect(result.field("ID") == "acme-corporation")
        #expect(result.field("Tier") == "business")
        #expect(result.field("Status") == "active")
        #expect(result.field("Admin e-mail") == "admin@acme.example")
        #expect(result.stderr == "")
    }

    @Test func createJSONFields() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run(
            "create", "--json", "--id", "globex", "--name", "Globex Inc", "--tier", "starter", "--admin-email",
            "ops@globex.example", "--trial", "--time-zone", "Europe/Berlin")
        #expect(result.status == 0, "\(result.stderr)")
        let tenant = try result.jsonObject()
        #expect(tenant["id"] as? String == "globex")
        #expect(tenant["name"] as? String == "Globex Inc")
        #expect(tenant["tier"] as? String == "starter")
        #expect(tenant["status"] as? String == "trial")
        #expect(tenant["adminEmail"] as? String == "ops@globex.example")
        #expect(tenant["timeZone"] as? String == "Europe/Berlin")
        #expect(tenant["placement"] as? String == "pool")
        #expect(tenant["statusBeforeSuspension"] is NSNull)
        #expect(tenant["suspensionReason"] is NSNull)
        #expect(tenant["deletedAt"] is NSNull)
        #expect(tenant["metadata"] as? [String: String] == [:])
        let createdAt = try #require(tenant["createdAt"] as? String)
        #expect((try? Date(createdAt, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) != nil)
        #expect(tenant["updatedAt"] as? String == createdAt)
    }

    @Test func createOptionsAfterEquals() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("create", "--id=initech", "--name=Initech", "--tier=free", "--admin-email=it@initech.example", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try result.jsonObject()["id"] as? String == "initech")
    }

    @Test func createRejectsUnknownTier() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("create", "--name", "Acme", "--tier", "gold", "--admin-email", "admin@acme.example")
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: invalid tier \"gold\": expected one of free, starter, professional, business, enterprise"))
        #expect(result.stderr.contains(Self.createUsage))
        #expect(!workspace.databaseExists)
    }

    @Test func createRejectsEmailWithoutEchoingIt() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("create", "--name", "Acme", "--tier", "free", "--admin-email", "admin-at-acme.example")
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: invalid admin e-mail: must contain exactly one '@'"))
        #expect(!result.stderr.contains("admin-at-acme.example"))
        #expect(!workspace.databaseExists)
    }

    @Test func createRejectsUnknownTimeZone() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run(
            "create", "--name", "Acme", "--tier", "free", "--admin-email", "a@acme.example", "--time-zone", "Mars/Olympus")
        #expect(result.status == 2)
        #expect(result.stderr.contains("invalid time zone \"Mars/Olympus\""))
        #expect(!workspace.databaseExists)
    }

    @Test func createMissingOption() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("create", "--name", "Acme", "--tier", "free")
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: missing option '--admin-email'"))
        #expect(result.stderr.contains(Self.createUsage))
    }

    @Test func createExistingIDIsRefused() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("create", "--id", "acme", "--name", "Other", "--tier", "free", "--admin-email", "o@other.example")
        #expect(result.status == 4)
        #expect(result.stderr == "error: tenant 'acme' already exists: choose another id\n")
    }

    @Test func listTableOmitsEmail() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "globex", name: "Globex", tier: "starter", email: "ops@globex.example")
        try await workspace.createTenant(id: "acme", name: "Acme Corporation", tier: "enterprise")
        let result = try await workspace.run("list")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines.first?.hasPrefix("ID      NAME              TIER        STATUS  CREATED") == true)
        #expect(lines.dropFirst().first?.hasPrefix("acme    Acme Corporation  enterprise  active  ") == true)
        #expect(lines.last?.hasPrefix("globex  Globex            starter     active  ") == true)
        #expect(!result.stdout.contains("@"))
    }

    @Test func listJSONFiltersByStatusAndTier() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme", tier: "business")
        try await workspace.createTenant(id: "globex", tier: "business", extra: ["--trial"])
        try await workspace.createTenant(id: "initech", tier: "free", extra: ["--trial"])

        let trial = try await workspace.run("list", "--status", "trial", "--json")
        #expect(trial.status == 0, "\(trial.stderr)")
        #expect(try trial.jsonArray().map { $0["id"] as? String } == ["globex", "initech"])

        let business = try await workspace.run("list", "--json", "--tier", "business", "--status", "trial")
        let tenants = try business.jsonArray()
        #expect(tenants.map { $0["id"] as? String } == ["globex"])
        #expect(tenants.first?["adminEmail"] == nil)
        #expect(tenants.first?["tier"] as? String == "business")
    }

    @Test func listEmptyJSONIsEmptyArray() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("list", "--status", "suspended", "--json")
        #expect(result.status == 0)
        #expect(try result.jsonArray().isEmpty)
    }

    @Test func listEmptyText() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("list", "--status", "suspended")
        #expect(result.status == 0)
        #expect(result.stdout == "No tenants match.\n")
    }

    @Test func listRejectsUnknownStatus() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("list", "--status", "paused")
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: invalid status 'paused': expected one of pending, provisioning, trial, active, suspended, cancelled, deleting, deleted"))
        #expect(result.stderr.contains("usage: tenancy list [--status STATUS] [--tier TIER] [--database URL] [--json]"))
    }

    @Test func listWithoutDatabaseFails() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("list")
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: no database at '\(workspace.databasePath)'"))
        #expect(!workspace.databaseExists)
    }

    @Test func showText() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme", name: "Acme Corporation", tier: "enterprise")
        let result = try await workspace.run("show", "acme")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.field("ID") == "acme")
        #expect(result.field("Name") == "Acme Corporation")
        #expect(result.field("Tier") == "enterprise")
        #expect(result.field("Status") == "active")
        #expect(result.field("Admin e-mail") == "admin@acme.example")
        #expect(result.field("Time zone") == "UTC")
    }

    @Test func showJSONOptionFirst() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme", name: "Acme Corporation", tier: "enterprise")
        let result = try await TenancyExecutable.run(["--json", "--database", workspace.databaseURL, "show", "acme"])
        #expect(result.status == 0, "\(result.stderr)")
        let tenant = try result.jsonObject()
        #expect(tenant["id"] as? String == "acme")
        #expect(tenant["name"] as? String == "Acme Corporation")
        #expect(tenant["tier"] as? String == "enterprise")
        #expect(tenant["status"] as? String == "active")
        #expect(tenant["adminEmail"] as? String == "admin@acme.example")
    }

    @Test func showMissingTenant() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("show", "ghost")
        #expect(result.status == 3)
        #expect(result.stderr == "error: tenant 'ghost' not found: check the id with 'tenancy list'\n")
        #expect(result.stdout == "")
    }

    @Test func showInvalidID() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await workspace.run("show", "Acme_Corp")
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: invalid tenant id \"Acme_Corp\""))
        #expect(result.stderr.contains("usage: tenancy show ID [--database URL] [--json]"))
    }

    @Test func showWithoutID() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run("show")
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: missing argument ID"))
        #expect(result.stderr.contains("usage: tenancy show ID [--database URL] [--json]"))
    }

    static let createUsage =
        "usage: tenancy create --name NAME --tier TIER --admin-email EMAIL [--id ID] [--trial] [--time-zone TZ] [--database URL] [--json]"
}
