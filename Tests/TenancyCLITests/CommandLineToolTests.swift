import Testing

@testable import tenancy

@Suite struct CommandLineSplitTests {
    @Test func commandFirst() {
        let (name, remaining) = CommandLineTool.splitCommandName(["show", "acme", "--json"])
        #expect(name == "show")
        #expect(remaining == ["acme", "--json"])
    }

    @Test func globalOptionsBeforeCommand() {
        let (name, remaining) = CommandLineTool.splitCommandName(["--database", "sqlite:x.db", "--json", "show", "acme"])
        #expect(name == "show")
        #expect(remaining == ["--database", "sqlite:x.db", "--json", "acme"])
    }

    @Test func databaseEqualsFormBeforeCommand() {
        let (name, remaining) = CommandLineTool.splitCommandName(["--database=sqlite:x.db", "list"])
        #expect(name == "list")
        #expect(remaining == ["--database=sqlite:x.db"])
    }

    @Test func commandOptionsBeforeCommand() {
        let (name, remaining) = CommandLineTool.splitCommandName(["--reason", "billing", "--purge", "suspend", "acme"])
        #expect(name == "suspend")
        #expect(remaining == ["--reason", "billing", "--purge", "acme"])
    }

    @Test func noCommand() {
        let (name, remaining) = CommandLineTool.splitCommandName(["--json"])
        #expect(name == nil)
        #expect(remaining == ["--json"])
    }
}

@Suite struct CommandUsageTests {
    @Test func showUsageLine() {
        #expect(TenantCommands.show.usage == "usage: tenancy show ID [--database URL] [--json]")
    }

    @Test func auditUsageMarksOptionalID() {
        #expect(AuditCommand.audit.usage == "usage: tenancy audit [ID] [--database URL] [--json]")
    }

    @Test func createUsageLine() {
        #expect(TenantCommands.create.usage
            == "usage: tenancy create --name NAME --tier TIER --admin-email EMAIL [--id ID] [--trial] [--time-zone TZ] [--database URL] [--json]")
    }

    @Test func commandNamesAreUnique() {
        let names = CommandLineTool.commands.map(\.name)
        #expect(Set(names).count == names.count)
    }

    @Test func demoReplacesDatabaseHelp() {
        let database = DemoCommand.demo.options.filter { $0.name == "database" }
        #expect(database.count == 1)
        #expect(database.first?.help.contains("TENANCY_DATABASE_URL is not read") == true)
    }
}
