import TenancyTesting
import Foundation
import Testing

/// The exit status and output of one run of the `tenancy` executable.
struct CLIResult: Sendable {
    let status: Int32
    let stdout: String
    let stderr: String

    /// Parses standard output as a JSON object.
    func jsonObject(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(value as? [String: Any], "stdout is not a JSON object: \(stdout)", sourceLocation: sourceLocation)
    }

    /// Parses standard output as a JSON array of objects.
    func jsonArray(sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        let value = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(value as? [[String: Any]], "stdout is not a JSON array of objects: \(stdout)", sourceLocation: sourceLocation)
    }

    /// Returns the value of a `Label:  value` line of the text output, or nil.
    func field(_ label: String) -> String? {
        for line in stdout.split(separator: "\n") where line.hasPrefix(label + ":") {
            return line.dropFirst(label.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}

/// Finds and runs the `tenancy` executable that `swift build` put next to the test bundle.
enum TenancyExecutable {
    struct NotFound: Error, CustomStringConvertible {
        let searched: [String]

        var description: String {
            "the tenancy executable was not found next to the test bundle (searched: "
                + searched.joined(separator: ", ") + "); build it with 'swift build' or run 'swift test'"
        }
    }

    /// How long one run may take before the test terminates it; a terminated run returns
    /// status 15 (SIGTERM), which fails the test's status check.
    static let timeout = Duration.seconds(60)

    /// The executable's location, searched once from the test bundle's directory upwards.
    static let location: Result<URL, NotFound> = {
        var searched: [String] = []
        let starts = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])]
        for start in starts {
            var directory = start.standardizedFileURL
            for _ in 0..<6 {
                let candidate = directory.appendingPathComponent("tenancy")
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    FileManager.default.isExecutableFile(atPath: candidate.path)
                {
                    return .success(candidate)
                }
                searched.append(directory.path)
                directory = directory.deletingLastPathComponent()
            }
        }
        return .failure(NotFound(searched: searched))
    }()

    /// Runs `tenancy` with `arguments` and waits for it to exit.
    ///
    /// The child gets this process's environment without `TENANCY_DATABASE_URL`, plus
    /// `environment`. Output goes to files rather than pipes, so a large output cannot block
    /// the child while the test waits for it.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> CLIResult {
        let executable = try location.get()
        let workingDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tenancy-cli-output-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: workingDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workingDirectory) }

        var childEnvironment = ProcessInfo.processInfo.environment
        childEnvironment.removeValue(forKey: "TENANCY_DATABASE_URL")
        childEnvironment.merge(environment) { _, new in new }

        // Children start through ProcessLaunch, not Foundation.Process, whose run() crashes now
        // and then on Linux.
        let output = try await ProcessLaunch.runCollectingOutput(
            executable.path, arguments: arguments, environment: childEnvironment,
            currentDirectory: workingDirectory.path, timeout: timeout)
        return CLIResult(status: output.termination.status, stdout: output.standardOutput, stderr: output.standardError)
    }
}

/// A temporary directory holding one test's database, removed when the value is released.
final class Workspace: Sendable {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tenancy-cli-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    var databasePath: String { directory.appendingPathComponent("registry.sqlite").path }

    /// The `--database` value of this workspace's database.
    var databaseURL: String { "sqlite:" + databasePath }

    var databaseExists: Bool { FileManager.default.fileExists(atPath: databasePath) }

    /// Runs `tenancy` with `arguments` followed by `--database` naming this workspace's file.
    func run(_ arguments: String..., environment: [String: String] = [:]) async throws -> CLIResult {
        try await TenancyExecutable.run(arguments + ["--database", databaseURL], environment: environment)
    }

    /// Creates a tenant through the CLI and fails the test unless it succeeds.
    func createTenant(
        id: String, name: String = "Acme Corporation", tier: String = "business", email: String = "admin@acme.example",
        extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let result = try await TenancyExecutable.run(
            ["create", "--id", id, "--name", name, "--tier", tier, "--admin-email", email, "--database", databaseURL] + extra)
        #expect(result.status == 0, "create \(id) failed: \(result.stderr)", sourceLocation: sourceLocation)
    }
}
