import Foundation
import TenancyPostgres

/// A pgbench script in a temporary file, run as a child process against the application
/// role's database with `-M prepared`: each client prepares the statement once and executes
/// it by name, as the library's pool does with its per-connection statement cache.
struct PgbenchRun {
    let options: PostgresQuotaBenchmarkOptions
    let configuration: PostgresConfiguration
    let script: URL
    /// `-D name=value` pairs passed on every run.
    let variables: [String]
    let version: String

    /// Writes a script holding one statement of the library, with `$n` turned into pgbench
    /// variables that `-D` sets to the same text the library binds.
    init(options: PostgresQuotaBenchmarkOptions, sql: String, arguments: [PostgresValue]) throws {
        var text = sql
        var variables: [String] = []
        // Highest index first, so `$1` never matches the start of `$10`.
        for index in stride(from: arguments.count, through: 1, by: -1) {
            text = text.replacingOccurrences(of: "$\(index)", with: ":p\(index)")
        }
        for (index, argument) in arguments.enumerated() {
            switch argument {
            case .text(let value): variables += ["-D", "p\(index + 1)=\(value)"]
            case .integer(let value): variables += ["-D", "p\(index + 1)=\(value)"]
            default: throw BenchmarkError("the pgbench baseline supports only text and integer arguments")
            }
        }
        // pgbench reads one statement per script line unless it ends with a semicolon.
        try self.init(options: options, script: text + ";\n", variables: variables)
    }

    /// Writes `script` as it is: pgbench meta-commands (`\set`) and statements using
    /// `:name` variables.
    init(options: PostgresQuotaBenchmarkOptions, script text: String, variables: [String] = []) throws {
        self.options = options
        configuration = try PostgresConfiguration(url: options.database)
        self.variables = variables
        script = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-bench-\(UUID().uuidString).sql")
        try text.write(to: script, atomically: true, encoding: .utf8)
        let versionLine = try Self.output(options.pgbench, ["--version"]).trimmingCharacters(in: .whitespacesAndNewlines)
        // `pgbench (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`: the third word is the version.
        let words = versionLine.split(separator: " ")
        version = words.count >= 3 ? String(words[2]) : versionLine
    }

    func remove() {
        try? FileManager.default.removeItem(at: script)
    }

    /// Runs pgbench once with `options.clients` clients and returns its transactions per
    /// second, without connection time.
    ///
    /// - Parameter extraVariables: `-D name=value` pairs for this run only.
    func run(transactionsPerClient: Int, extraVariables: [String] = []) throws -> Double {
        let arguments = [
            "-n", "-M", "prepared", "-c", String(options.clients), "-j", "1", "-t", String(transactionsPerClient), "-f", script.path,
            "-h", configuration.host, "-p", String(configuration.port), "-U", configuration.user,
        ] + variables + extraVariables + [configuration.database]
        let output = try Self.output(options.pgbench, arguments, password: configuration.password)
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let rate = Double(line.dropFirst("tps = ".count).prefix { $0 != " " })
        else {
            throw BenchmarkError("pgbench printed no tps line; its output was:\n\(output)")
        }
        return rate
    }

    private static func output(_ executable: String, _ arguments: [String], password: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        // The password goes through the environment, so it never shows in the process list.
        if let password { environment["PGPASSWORD"] = password }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw BenchmarkError("\(executable) exited with status \(process.terminationStatus):\n\(text)")
        }
        return text
    }
}
