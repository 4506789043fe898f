import Tenancy
import TenancyPostgres

/// The `tenancy` command line: finds the command, parses its arguments, runs it and maps
/// errors to exit statuses.
enum CommandLineTool {
    static let commands: [Command] = [
        TenantCommands.create, TenantCommands.list, TenantCommands.show,
        LifecycleCommands.suspend, LifecycleCommands.activate, LifecycleCommands.delete,
        LifecycleCommands.purgeExpired, AuditCommand.audit, IsolationCommands.verify, IsolationCommands.sql, IsolationCommands.protect,
    ] + UsageCommands.group.commands + [SetupCommand.rolesSQL, SetupCommand.install, DemoCommand.demo]

    /// The commands whose names are two words, such as `usage show`.
    static let groups: [CommandGroup] = [UsageCommands.group]

    static let generalUsage = "usage: tenancy COMMAND [ARGUMENTS] [--database URL] [--json] [--help]"

    /// The version `tenancy --version` prints.
    static let version = "0.1.0"

    /// Runs one command line (without the program name) and returns the exit status.
    static func run(_ arguments: [String], environment: [String: String], console: Console = Console()) async -> ExitStatus {
        let (name, remaining) = splitCommandName(arguments)
        guard let name else {
            if remaining.contains("--help") || remaining.contains("-h") {
                console.write(generalHelp)
                return .success
            }
            if remaining.contains("--version") {
                if remaining.contains("--json") {
                    console.write("{\"version\":\"\(version)\"}")
                } else {
                    console.write("tenancy \(version)")
                }
                return .success
            }
            console.writeError("error: missing command\n\(generalUsage)\nRun 'tenancy help' for the list of commands.")
            return .usage
        }
        if name == "help" {
            return runHelp(remaining, console: console)
        }
        if let group = groups.first(where: { $0.name == name }) {
            return await run(group, remaining, environment: environment, console: console)
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            console.writeError(
                "error: unknown command\(quotedCommandName(name))\n\(generalUsage)\nRun 'tenancy help' for the list of commands.")
            return .usage
        }
        return await run(command, remaining, environment: environment, console: console)
    }

    /// Finds the subcommand of `group` in `arguments` and runs it.
    static func run(_ group: CommandGroup, _ arguments: [String], environment: [String: String], console: Console) async -> ExitStatus {
        let (name, remaining) = splitCommandName(arguments)
        guard let name else {
            if remaining.contains("--help") || remaining.contains("-h") {
                console.write(group.help)
                return .success
            }
            console.writeError(
                "error: missing subcommand: expected \(group.subcommandList)\n\(group.usage)\nRun 'tenancy \(group.name) --help' for details.")
            return .usage
        }
        guard let command = group.command(named: name) else {
            console.writeError(
                "error: unknown subcommand '\(ArgumentParser.displayed(name))' of '\(group.name)': expected \(group.subcommandList)\n"
                    + "\(group.usage)\nRun 'tenancy \(group.name) --help' for details.")
            return .usage
        }
        return await run(command, remaining, environment: environment, console: console)
    }

    static func run(_ command: Command, _ arguments: [String], environment: [String: String], console: Console) async -> ExitStatus {
        do {
            let parsed = try command.parser.parse(arguments)
            if parsed.has("help") {
                console.write(command.help)
                return .success
            }
            try command.parser.checkComplete(parsed)
            try await command.run(Invocation(command: command, arguments: parsed, environment: environment, console: console))
            return .success
        } catch {
            return report(error, of: command, console: console)
        }
    }

    /// Separates the command name from the arguments. Options may come before the name; they
    /// stay in the returned arguments, and the command's parser checks them.
    static func splitCommandName(_ arguments: [String]) -> (name: String?, remaining: [String]) {
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            if !argument.hasPrefix("-") {
                var remaining = arguments
                remaining.remove(at: index)
                return (argument, remaining)
            }
            // `--tier TIER` written before the command takes the next argument as its value,
            // so the value is not mistaken for the command name.
            let takesNextArgument = argument.hasPrefix("--") && valueOptionNames.contains(String(argument.dropFirst(2)))
            index += takesNextArgument ? 2 : 1
        }
        return (nil, arguments)
    }

    /// The long names of the options that take a value, over every command.
    static let valueOptionNames: Set<String> = Set(commands.flatMap(\.options).filter(\.takesValue).map(\.name))

    /// Returns ` 'NAME'` for an unknown command name, or a note in its place when the name
    /// contains `@`, because an e-mail address must not appear in a message.
    static func quotedCommandName(_ name: String) -> String {
        name.contains("@") ? " (not shown because it contains '@')" : " '\(ArgumentParser.displayed(name))'"
    }

    private static func runHelp(_ arguments: [String], console: Console) -> ExitStatus {
        let topics = arguments.filter { !$0.hasPrefix("-") }
        guard let topic = topics.first else {
            console.write(generalHelp)
            return .success
        }
        if topics.count == 1, let group = groups.first(where: { $0.name == topic }) {
            console.write(group.help)
            return .success
        }
        let name = topics.joined(separator: " ")
        guard topics.count <= 2, let command = commands.first(where: { $0.name == name }) else {
            console.writeError(
                "error: unknown command\(quotedCommandName(topic))\nusage: tenancy help [COMMAND]\nRun 'tenancy help' for the list of commands.")
            return .usage
        }
        console.write(command.help)
        return .success
    }

    static var generalHelp: String {
        let width = commands.map(\.name.count).max() ?? 0
        var lines = [generalUsage, "", "Manages the tenants of a Tenancy registry and checks the isolation of their data.", "", "Commands:"]
        lines += commands.map { "  " + $0.name.padded(to: width) + "  " + $0.summary }
        lines.append("  " + "help".padded(to: width) + "  print this help, or a command's help with 'tenancy help COMMAND'")
        lines += [
            "",
            "The database is --database URL, else \(DatabaseLocation.environmentVariable), else sqlite:./tenancy.sqlite.",
            "On PostgreSQL, --owner-database URL (\(PostgresSettings.ownerVariable)) names the owner role,",
            "--maintenance-database URL (\(PostgresSettings.maintenanceVariable)) the role of 'sql --platform',",
            "--schema NAME the schema, and \(PostgresBindingSecret.environmentVariable) holds the binding secret.",
            "Options may come before or after arguments, as '--option VALUE' or '--option=VALUE'; a value",
            "that starts with '--' needs the second form. 'tenancy COMMAND --help' prints a command's usage.",
            "'tenancy --version' prints the version.",
            "",
            "Exit status: 0 success, 1 operation failed, 2 usage error, 3 tenant not found,",
            "4 rejected (invalid transition, suspended or unavailable tenant, id already exists,",
            "a statement denied by the isolation guards, a finding of 'tenancy verify', a quota exceeded).",
        ]
        return lines.joined(separator: "\n")
    }

    /// The isolation error codes of a tenant statement that the guards stopped. Other codes (an
    /// invalid table, unavailable options) mean the set-up failed, so they exit with 1.
    static let rejectedStatementCodes: Set<IsolationError.Code> = [.denied, .unsupportedStatement, .timeLimitExceeded, .lengthLimitExceeded]

    /// Returns the server's own message on a line of its own, for the operator at the terminal.
    /// The library keeps it out of `description` because it can quote row values, which a log
    /// line must not carry, but the operator who ran the command may read their own data.
    static func serverDetail(_ error: PostgresError) -> String {
        guard let message = error.serverMessage, !message.isEmpty else { return "" }
        return "\nserver message: \(message)"
    }

    /// Prints the error and returns its exit status. Messages never contain e-mail addresses:
    /// the library's errors leave them out, and the CLI adds only ids and option names.
    static func report(_ error: any Error, of command: Command, console: Console) -> ExitStatus {
        let usageHint = "\(command.usage)\nRun 'tenancy \(command.name) --help' for details."
        switch error {
        case let error as UsageError:
            console.writeError("error: \(error)\n\(usageHint)")
            return .usage
        case let error as ValidationError:
            console.writeError("error: \(error)\n\(usageHint)")
            return .usage
        case let error as TenantNotFoundError:
            console.writeError("error: \(error): check the id with 'tenancy list'")
            return .notFound
        case is InvalidTransitionError, is TenantSuspendedError, is TenantUnavailableError, is TenantStateError,
            is TenantAlreadyExistsError, is IsolationCheckFailedError, is PlatformWriteRejectedError, is SetupCommand.SecretMismatchError:
            console.writeError("error: \(error)")
            return .refused
        case let error as QuotaExceeded:
            console.writeError("error: \(error)\n" + UsageCommands.refusalDetails(error))
            return .refused
        case let error as IsolationError where rejectedStatementCodes.contains(error.code) || error.code == .invalidTable:
            console.writeError("error: \(error)")
            return .refused
        case let error as PostgresError where error.code == .insufficientPrivilege:
            // Row-level security rejects a write of another tenant's row with this code.
            console.writeError("error: \(error)" + serverDetail(error))
            return .refused
        case let error as PostgresError where error.kind == .statementTimedOut:
            // As on SQLite, a statement stopped by the time limit counts as rejected.
            console.writeError("error: \(error)")
            return .refused
        case let error as PostgresError:
            console.writeError("error: \(error)" + serverDetail(error))
            return .failure
        default:
            console.writeError("error: \(error)")
            return .failure
        }
    }
}
