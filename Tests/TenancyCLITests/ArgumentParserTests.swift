import Testing

@testable import tenancy

@Suite struct ArgumentParserTests {
    let parser = ArgumentParser(
        options: [
            .value("reason", "TEXT", help: "why"),
            .value("tier", "TIER", required: true, help: "the tier"),
            .flag("purge", help: "purge"),
            .flag("help", help: "help"),
        ],
        positionals: [
            PositionalSpec(name: "ID", isRequired: true, help: "the id"),
            PositionalSpec(name: "OTHER", isRequired: false, help: "another"),
        ])

    @Test func optionsAfterPositional() throws {
        let parsed = try parser.parse(["acme", "--reason", "billing", "--purge"])
        #expect(parsed.positionals == ["acme"])
        #expect(parsed.value("reason") == "billing")
        #expect(parsed.has("purge"))
    }

    @Test func optionsBeforePositional() throws {
        let parsed = try parser.parse(["--purge", "--reason", "billing", "acme"])
        #expect(parsed.positionals == ["acme"])
        #expect(parsed.value("reason") == "billing")
        #expect(parsed.has("purge"))
    }

    @Test func negativeNumberIsPositional() throws {
        let parsed = try parser.parse(["acme", "-5"])
        #expect(parsed.positionals == ["acme", "-5"])
    }

    @Test func dashLetterIsStillAnOption() throws {
        #expect(throws: UsageError.self) { try parser.parse(["acme", "-5x"]) }
        #expect(throws: UsageError.self) { try parser.parse(["acme", "-x"]) }
    }

    @Test func optionsBetweenPositionals() throws {
        let parsed = try parser.parse(["acme", "--tier", "free", "globex"])
        #expect(parsed.positionals == ["acme", "globex"])
        #expect(parsed.value("tier") == "free")
    }

    @Test func equalsFormSetsValue() throws {
        let parsed = try parser.parse(["--reason=billing overdue", "acme"])
        #expect(parsed.value("reason") == "billing overdue")
    }

    @Test func equalsFormKeepsFurtherEquals() throws {
        let parsed = try parser.parse(["--reason=a=b"])
        #expect(parsed.value("reason") == "a=b")
    }

    @Test func equalsFormAllowsLeadingDashes() throws {
        let parsed = try parser.parse(["--reason=--json"])
        #expect(parsed.value("reason") == "--json")
        #expect(!parsed.has("json"))
    }

    @Test func missingValueAtEnd() {
        #expect(throws: UsageError("missing value for option '--reason'")) {
            try parser.parse(["acme", "--reason"])
        }
    }

    @Test func missingValueBeforeOption() {
        #expect(throws: UsageError("missing value for option '--reason'")) {
            try parser.parse(["--reason", "--purge", "acme"])
        }
    }

    @Test func unknownOptionIsUsageError() {
        #expect(throws: UsageError("unknown option '--force'")) {
            try parser.parse(["acme", "--force"])
        }
    }

    @Test func unknownOptionHidesItsValue() {
        #expect(throws: UsageError("unknown option '--email'")) {
            try parser.parse(["--email=admin@acme.example"])
        }
    }

    @Test func singleDashOptionIsUnknown() {
        #expect(throws: UsageError("unknown option '-f': options are spelled with two dashes, as in --help")) {
            try parser.parse(["-f=secret"])
        }
    }

    @Test func shortHelpIsHelp() throws {
        let parsed = try parser.parse(["-h"])
        #expect(parsed.has("help"))
    }

    @Test func flagRejectsValue() {
        #expect(throws: UsageError("option '--purge' is a flag and takes no value")) {
            try parser.parse(["--purge=yes"])
        }
    }

    @Test func repeatedOptionIsRejected() {
        #expect(throws: UsageError("option '--reason' is given more than once")) {
            try parser.parse(["--reason", "a", "--reason", "b"])
        }
    }

    @Test func repeatedFlagIsRejected() {
        #expect(throws: UsageError("option '--purge' is given more than once")) {
            try parser.parse(["--purge", "--purge"])
        }
    }

    @Test func doubleDashEndsOptions() throws {
        let parsed = try parser.parse(["--", "--purge", "-x"])
        #expect(parsed.positionals == ["--purge", "-x"])
        #expect(!parsed.has("purge"))
    }

    @Test func singleDashIsPositional() throws {
        let parsed = try parser.parse(["-"])
        #expect(parsed.positionals == ["-"])
    }

    @Test func completeCommandPassesCheck() throws {
        let parsed = try parser.parse(["acme", "--tier", "free"])
        try parser.checkComplete(parsed)
    }

    @Test func missingRequiredOption() throws {
        let parsed = try parser.parse(["acme"])
        #expect(throws: UsageError("missing option '--tier'")) {
            try parser.checkComplete(parsed)
        }
    }

    @Test func missingRequiredPositional() throws {
        let parsed = try parser.parse(["--tier", "free"])
        #expect(throws: UsageError("missing argument ID")) {
            try parser.checkComplete(parsed)
        }
    }

    @Test func tooManyPositionals() throws {
        let parsed = try parser.parse(["a", "b", "c", "--tier", "free"])
        #expect(throws: UsageError("too many arguments: expected at most 2")) {
            try parser.checkComplete(parsed)
        }
    }

    @Test func positionalWithoutPositionalSpecs() throws {
        let bare = ArgumentParser(options: [], positionals: [])
        let parsed = try bare.parse(["extra"])
        #expect(throws: UsageError("unexpected argument: this command takes no positional arguments")) {
            try bare.checkComplete(parsed)
        }
    }

    @Test func helpParsesWithoutRequiredArguments() throws {
        let parsed = try parser.parse(["--help"])
        #expect(parsed.has("help"))
        #expect(parsed.positionals.isEmpty)
    }

    @Test func displayedCutsAndEscapes() {
        #expect(ArgumentParser.displayed("a\nb") == "a\\nb")
        #expect(ArgumentParser.displayed(String(repeating: "x", count: 70)) == String(repeating: "x", count: 64) + "...")
    }
}
