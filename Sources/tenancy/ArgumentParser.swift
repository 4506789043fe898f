/// One option a command accepts, such as `--tier TIER` or the flag `--purge`.
struct OptionSpec: Sendable {
    /// The long name without dashes, such as `tier`.
    let name: String
    /// The placeholder of the value in usage text, such as `TIER`; nil for a flag.
    let valueName: String?
    /// Whether the command fails without it.
    let isRequired: Bool
    /// The help text: what the option sets, and in which unit.
    let help: String

    static func flag(_ name: String, help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, isRequired: false, help: help)
    }

    static func value(_ name: String, _ valueName: String, required: Bool = false, help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: valueName, isRequired: required, help: help)
    }

    var takesValue: Bool { valueName != nil }
}

/// One positional argument of a command, such as `ID`.
struct PositionalSpec: Sendable {
    let name: String
    let isRequired: Bool
    let help: String
}

/// The arguments of one command after parsing.
struct ParsedArguments: Equatable, Sendable {
    /// The values of options that take one, by long name.
    var values: [String: String] = [:]
    /// The flags that were given, by long name.
    var flags: Set<String> = []
    /// The positional arguments, in order.
    var positionals: [String] = []

    func value(_ name: String) -> String? { values[name] }

    func has(_ flag: String) -> Bool { flags.contains(flag) }
}

/// A command line that does not match the command's usage; the CLI exits with status 2.
struct UsageError: Error, Equatable, CustomStringConvertible {
    let message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}

/// Parses command arguments against a list of options and positionals.
///
/// Options may come before or after positional arguments, as `--name value` or `--name=value`.
/// `-h` is short for `--help`. After `--`, every argument is positional, so a value may start
/// with a dash. A negative whole number such as `-5` is positional too. A value that starts with `--` must use the `--name=value` form, because
/// `--reason --json` more likely means a forgotten value than the reason "--json".
///
/// Parsing is two steps, so `--help` works on an otherwise incomplete command line:
/// ``parse(_:)`` reads the arguments, and ``checkComplete(_:)`` checks the required options
/// and the number of positionals.
struct ArgumentParser: Sendable {
    let options: [OptionSpec]
    let positionals: [PositionalSpec]

    func parse(_ arguments: [String]) throws(UsageError) -> ParsedArguments {
        var parsed = ParsedArguments()
        var index = arguments.startIndex
        var onlyPositionals = false

        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1

            if onlyPositionals || !argument.hasPrefix("-") || argument == "-" || Self.isNegativeNumber(argument) {
                parsed.positionals.append(argument)
                continue
            }
            if argument == "--" {
                onlyPositionals = true
                continue
            }

            let (name, inlineValue) = try Self.splitOption(argument)
            guard let option = options.first(where: { $0.name == name }) else {
                // Only the name is shown: the value of a mistyped option may be an e-mail.
                throw UsageError("unknown option '--\(Self.displayed(name))'")
            }
            if parsed.values[name] != nil || parsed.flags.contains(name) {
                throw UsageError("option '--\(name)' is given more than once")
            }

            guard option.takesValue else {
                if inlineValue != nil {
                    throw UsageError("option '--\(name)' is a flag and takes no value")
                }
                parsed.flags.insert(name)
                continue
            }

            if let inlineValue {
                parsed.values[name] = inlineValue
            } else if index < arguments.endIndex, !arguments[index].hasPrefix("--") {
                parsed.values[name] = arguments[index]
                index += 1
            } else {
                throw UsageError("missing value for option '--\(name)'")
            }
        }
        return parsed
    }

    /// Returns whether `argument` is a negative whole number such as `-5`. No option name
    /// starts with a digit, so such an argument is a positional value (an amount), and the
    /// command can report it as an invalid value rather than an unknown option.
    static func isNegativeNumber(_ argument: String) -> Bool {
        let digits = argument.utf8.dropFirst()
        return argument.hasPrefix("-") && !digits.isEmpty && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// Checks that every required option is present and the number of positionals fits.
    func checkComplete(_ parsed: ParsedArguments) throws(UsageError) {
        for option in options where option.isRequired && parsed.values[option.name] == nil {
            throw UsageError("missing option '--\(option.name)'")
        }
        try checkPositionalCount(parsed.positionals.count)
    }

    /// Splits `--name=value` into its parts; `-h` becomes `help`.
    private static func splitOption(_ argument: String) throws(UsageError) -> (name: String, value: String?) {
        if argument == "-h" { return ("help", nil) }
        guard argument.hasPrefix("--") else {
            let name = argument.prefix { $0 != "=" }
            throw UsageError("unknown option '\(displayed(String(name)))': options are spelled with two dashes, as in --help")
        }
        let body = argument.dropFirst(2)
        guard let equals = body.firstIndex(of: "=") else {
            return (String(body), nil)
        }
        return (String(body[..<equals]), String(body[body.index(after: equals)...]))
    }

    private func checkPositionalCount(_ count: Int) throws(UsageError) {
        let required = positionals.filter(\.isRequired)
        if count < required.count {
            let missing = required[count...].map(\.name).joined(separator: " ")
            throw UsageError("missing argument \(missing)")
        }
        if count > positionals.count {
            throw UsageError(positionals.isEmpty
                ? "unexpected argument: this command takes no positional arguments"
                : "too many arguments: expected at most \(positionals.count)")
        }
    }

    /// Cuts an argument for an error message, so a pasted blob stays one short line.
    static func displayed(_ argument: String) -> String {
        let escaped = argument.unicodeScalars.prefix(64).map { scalar in
            scalar.properties.generalCategory == .control ? scalar.escaped(asASCII: true) : String(scalar)
        }.joined()
        return argument.unicodeScalars.count > 64 ? escaped + "..." : escaped
    }
}
