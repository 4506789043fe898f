import Tenancy

/// The process exit status of the CLI.
enum ExitStatus: Int32, Sendable {
    case success = 0
    /// The operation failed (a database error, a failed purger, a missing database file).
    case failure = 1
    /// The command line is invalid: an unknown option, a missing value, an invalid id, tier,
    /// name or e-mail address.
    case usage = 2
    /// The tenant does not exist.
    case notFound = 3
    /// The registry rejected the change (an invalid transition, a suspended or unavailable
    /// tenant, an id that already exists), the isolation guards denied a statement,
    /// `tenancy verify` found a problem, or a quota rejected a charge.
    case refused = 4
}

/// A CLI command: its name, usage, help and the function that runs it.
struct Command: Sendable {
    let name: String
    /// One line for the command list of `tenancy help`.
    let summary: String
    let options: [OptionSpec]
    let positionals: [PositionalSpec]
    /// Further help text printed after the options, or nil.
    let details: String?
    let run: @Sendable (Invocation) async throws -> Void

    init(
        name: String, summary: String, options: [OptionSpec] = [], positionals: [PositionalSpec] = [],
        details: String? = nil, run: @escaping @Sendable (Invocation) async throws -> Void
    ) {
        self.name = name
        self.summary = summary
        // A command may give a global option its own help text, as `demo` does for --database.
        self.options = options + Command.globalOptions.filter { global in !options.contains { $0.name == global.name } }
        self.positionals = positionals
        self.details = details
        self.run = run
    }

    /// The options every command accepts.
    static let globalOptions: [OptionSpec] = [
        .value(
            "database", "URL",
            help: "the registry database: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE as the application role "
                + "(default \(DatabaseLocation.environmentVariable), else sqlite:./tenancy.sqlite)"),
        .value(
            "owner-database", "URL",
            help: "PostgreSQL only: the owner role, which installs the schema and runs the probes of verify (default \(PostgresSettings.ownerVariable))"),
        .value(
            "maintenance-database", "URL",
            help: "PostgreSQL only: the read-only BYPASSRLS maintenance role, for 'sql --platform' (default \(PostgresSettings.maintenanceVariable))"),
        .value(
            "schema", "NAME",
            help: "PostgreSQL only: the schema of the registry and row-level security objects (default \(PostgresSettings.schemaVariable), else \(PostgresSettings.defaultSchema))"),
        .flag("json", help: "print the result as JSON"),
        .flag("help", help: "print this help"),
    ]

    var parser: ArgumentParser {
        ArgumentParser(options: options, positionals: positionals)
    }

    /// The options that only PostgreSQL uses. The usage line leaves them out to stay short,
    /// and the help lists them.
    static let postgresOptionNames: Set<String> = ["owner-database", "maintenance-database", "schema"]

    /// The usage line, such as `tenancy show ID [--database URL] [--json]`.
    var usage: String {
        var parts = ["tenancy", name]
        parts += positionals.map { $0.isRequired ? $0.name : "[\($0.name)]" }
        for option in options where option.name != "help" && !Command.postgresOptionNames.contains(option.name) {
            let text = option.valueName.map { "--\(option.name) \($0)" } ?? "--\(option.name)"
            parts.append(option.isRequired ? text : "[\(text)]")
        }
        return "usage: " + parts.joined(separator: " ")
    }

    /// The full help: usage, summary, arguments, options and details.
    var help: String {
        var lines = [usage, "", summary]
        if !positionals.isEmpty {
            lines += ["", "Arguments:"]
            let width = positionals.map(\.name.count).max() ?? 0
            lines += positionals.map { "  " + $0.name.padded(to: width) + "  " + $0.help }
        }
        lines += ["", "Options:"]
        let labels = options.map { option in option.valueName.map { "--\(option.name) \($0)" } ?? "--\(option.name)" }
        let width = labels.map(\.count).max() ?? 0
        lines += zip(labels, options).map { label, option in "  " + label.padded(to: width) + "  " + option.help }
        if let details {
            lines += ["", details]
        }
        return lines.joined(separator: "\n")
    }
}

/// Commands whose names share a first word, such as `usage show` and `usage reset`.
struct CommandGroup: Sendable {
    /// The first word, such as `usage`.
    let name: String
    /// The one-line description printed in the group's help.
    let summary: String
    /// The commands, each named `NAME SUBCOMMAND`.
    let commands: [Command]

    /// The subcommand names for messages, such as `show, charge or reset`.
    var subcommandList: String {
        let names = commands.map { String($0.name.dropFirst(name.count + 1)) }
        return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
    }

    /// Returns the command named `NAME subcommand`, or nil.
    func command(named subcommand: String) -> Command? {
        commands.first { $0.name == "\(name) \(subcommand)" }
    }

    var usage: String {
        "usage: tenancy \(name) SUBCOMMAND [ARGUMENTS] [--database URL] [--json] [--help]"
    }

    /// The group help: usage, summary and one line per subcommand.
    var help: String {
        let names = commands.map { String($0.name.dropFirst(name.count + 1)) }
        let width = names.map(\.count).max() ?? 0
        var lines = [usage, "", summary, "", "Subcommands:"]
        lines += zip(names, commands).map { subcommand, command in "  " + subcommand.padded(to: width) + "  " + command.summary }
        lines += ["", "'tenancy \(name) SUBCOMMAND --help' prints a subcommand's usage."]
        return lines.joined(separator: "\n")
    }
}

/// The context of a running command: its parsed arguments, the environment and the console.
struct Invocation: Sendable {
    let command: Command
    let arguments: ParsedArguments
    let environment: [String: String]
    let console: Console

    /// Whether `--json` was given.
    var json: Bool { arguments.has("json") }

    /// Returns the positional argument at `index`, or nil. ``ArgumentParser/checkComplete(_:)``
    /// has checked that every required one exists.
    func positional(_ index: Int) -> String? {
        index < arguments.positionals.count ? arguments.positionals[index] : nil
    }

    /// Opens the registry named by `--database` or the environment.
    ///
    /// - Parameters:
    ///   - tenantData: whether the command reads or removes rows of tenant tables, so on
    ///     PostgreSQL it needs row-level security and the binding secret.
    ///   - platformReads: whether the command reads across tenants, so on PostgreSQL it also
    ///     needs the maintenance role.
    func openRegistry(
        create: Bool = false, tenantData: Bool = false, platformReads: Bool = false, statementTimeLimit: Duration? = nil
    ) async throws -> OpenRegistry {
        let location = try DatabaseLocation.resolve(option: arguments.value("database"), environment: environment)
        if case .postgres(let url) = location {
            var settings = PostgresSettings.resolve(arguments, environment: environment)
            settings.statementTimeLimit = statementTimeLimit
            return try await OpenRegistry.openPostgres(
                url: url, settings: settings, create: create, requireTenants: tenantData || platformReads, requireMaintenance: platformReads)
        }
        return try await OpenRegistry.open(location, create: create)
    }
}

extension String {
    func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
