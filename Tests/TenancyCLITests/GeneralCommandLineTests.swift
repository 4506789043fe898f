import Foundation
import Testing

/// End-to-end tests of what every command shares: help, the database option and the
/// handling of unknown commands.
@Suite struct GeneralCommandLineTests {
    static let commandNames = [
        "create", "list", "show", "suspend", "activate", "delete", "purge-expired", "audit", "verify", "sql", "usage show",
        "usage charge", "usage reset", "demo",
    ]

    /// Splits a command name such as `usage show` into its arguments.
    func words(_ name: String) -> [String] {
        name.split(separator: " ").map(String.init)
    }

    @Test(arguments: commandNames)
    func helpOptionPrintsUsage(_ name: String) async throws {
        let result = try await TenancyExecutable.run(words(name) + ["--help"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("usage: tenancy \(name)"))
        #expect(result.stdout.contains("--json"))
        #expect(result.stderr == "")
    }

    @Test(arguments: commandNames)
    func helpCommandPrintsSameHelp(_ name: String) async throws {
        let viaOption = try await TenancyExecutable.run(words(name) + ["-h"])
        let viaCommand = try await TenancyExecutable.run(["help"] + words(name))
        #expect(viaCommand.status == 0)
        #expect(viaCommand.stdout == viaOption.stdout)
    }

    @Test func generalHelpListsEveryCommand() async throws {
        let result = try await TenancyExecutable.run(["help"])
        #expect(result.status == 0)
        for name in Self.commandNames {
            #expect(result.stdout.contains("\n  \(name) "), "help does not list \(name)")
        }
    }

    @Test func generalHelpNamesVersionAndExitCodes() async throws {
        let result = try await TenancyExecutable.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\n'tenancy --version' prints the version.\n"))
        #expect(result.stdout.hasSuffix("""
            4 rejected (invalid transition, suspended or unavailable tenant, id already exists,
            a statement denied by the isolation guards, a finding of 'tenancy verify', a quota exceeded).

            """))
    }

    @Test func unknownCommand() async throws {
        let result = try await TenancyExecutable.run(["frobnicate"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: unknown command 'frobnicate'\nusage: tenancy COMMAND"))
    }

    @Test func optionValueBeforeCommand() async throws {
        let workspace = try Workspace()
        let result = try await workspace.run(
            "--admin-email", "owner@acme.example", "--tier", "free", "create", "--id", "acme", "--name", "Acme", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try result.jsonObject()["adminEmail"] as? String == "owner@acme.example")
        #expect(try result.jsonObject()["tier"] as? String == "free")
    }

    @Test func unknownCommandHidesEmail() async throws {
        let result = try await TenancyExecutable.run(["jane.doe@private.example", "create"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix(
            "error: unknown command (not shown because it contains '@')\nusage: tenancy COMMAND"))
        #expect(!result.stderr.contains("jane.doe"))
    }

    @Test func missingCommand() async throws {
        let result = try await TenancyExecutable.run([])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: missing command\nusage: tenancy COMMAND"))
    }

    @Test func postgresConnectErrorHidesPassword() async throws {
        // Nothing listens on port 1 of the loopback interface, so the connection is refused.
        let result = try await TenancyExecutable.run(["list", "--database", "postgres://app:s3cret@127.0.0.1:1/tenancy"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: cannot open the registry in schema 'tenancy' of postgres://app@127.0.0.1:1/tenancy: "), "\(result.stderr)")
        #expect(!result.stderr.contains("s3cret"))
    }

    @Test func unknownSchemeNamesValueWithoutPassword() async throws {
        let result = try await TenancyExecutable.run(["list", "--database", "mysql://app:s3cret@localhost/t"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix(
            "error: invalid --database 'mysql://app:***@localhost/t': expected sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE\n"))
        #expect(!result.stderr.contains("s3cret"))
    }

    @Test func bareDatabasePathSuggestsScheme() async throws {
        let result = try await TenancyExecutable.run(["list", "--database", "/tmp/x.sqlite"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix(
            "error: invalid --database '/tmp/x.sqlite': expected sqlite:PATH, as in sqlite:/tmp/x.sqlite or postgres://USER:PASSWORD@HOST:PORT/DATABASE\n"))
        #expect(result.stderr.contains("usage: tenancy list "))
    }

    @Test func versionOption() async throws {
        let result = try await TenancyExecutable.run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "tenancy 0.1.0\n")
        #expect(result.stderr == "")
    }

    @Test func versionOptionJSON() async throws {
        let result = try await TenancyExecutable.run(["--version", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "{\"version\":\"0.1.0\"}\n")
    }

    @Test func emptySchemaIsUsageError() async throws {
        // The name is checked before any connection, so the unreachable port is never used.
        let result = try await TenancyExecutable.run(["list", "--database", "postgres://app:secret@127.0.0.1:1/app", "--schema", ""])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: invalid schema name '' in --schema or TENANCY_DATABASE_SCHEMA: expected 1 to 63 bytes without NUL\n"))
    }

    @Test func unopenableDatabaseNamesPath() async throws {
        let workspace = try Workspace()
        let path = workspace.directory.appendingPathComponent("missing-directory/registry.sqlite").path
        let result = try await TenancyExecutable.run(
            ["create", "--id", "acme", "--name", "Acme", "--tier", "free", "--admin-email", "a@acme.example", "--database", "sqlite:" + path])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: cannot open the database '\(path)': "))
        #expect(result.stderr.hasSuffix("; check that the directory exists and is writable\n"))
    }

    @Test func environmentNamesDatabase() async throws {
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme")
        let result = try await TenancyExecutable.run(["list", "--json"], environment: ["TENANCY_DATABASE_URL": workspace.databaseURL])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try result.jsonArray().map { $0["id"] as? String } == ["acme"])
    }

    @Test func invalidEnvironmentValue() async throws {
        let result = try await TenancyExecutable.run(["list"], environment: ["TENANCY_DATABASE_URL": "redis://localhost"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: invalid TENANCY_DATABASE_URL 'redis://localhost'"))
    }
}
