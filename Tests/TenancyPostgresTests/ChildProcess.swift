import TenancyTesting
import Foundation
import Testing

/// The result of a child process.
struct ProcessResult {
    let status: Int32
    let killedBySignal: Bool
    let standardOutput: String
    let standardError: String
}

/// Locates an executable that `swift build` put next to the test bundle.
func builtExecutable(_ name: String) throws -> URL {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    Issue.record("the executable '\(name)' was not found next to the test bundle; run `swift build` first")
    throw CocoaError(.fileNoSuchFile)
}

/// Runs an executable to completion and collects its output. Children start through
/// `ProcessLaunch`, not `Foundation.Process`, whose `run()` crashes now and then on Linux.
func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessResult {
    var merged = ProcessInfo.processInfo.environment
    merged.removeValue(forKey: "TENANCY_FAULT")
    merged.merge(environment) { $1 }
    let output = try await ProcessLaunch.runCollectingOutput(executable.path, arguments: arguments, environment: merged)
    return ProcessResult(
        status: output.termination.signal ?? output.termination.status,
        killedBySignal: output.termination.signal != nil,
        standardOutput: output.standardOutput,
        standardError: output.standardError)
}
