import Foundation
import Testing

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

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

/// Runs an executable to completion and collects its output.
func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var merged = ProcessInfo.processInfo.environment
    merged.removeValue(forKey: "TENANCY_FAULT")
    merged.merge(environment) { $1 }
    process.environment = merged
    // Standard error goes to a file, so a child that writes a lot to it cannot block on a full
    // pipe while this process reads standard output.
    let output = Pipe()
    let errorURL = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-stderr-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errorURL) }
    let errorFile = try FileHandle(forWritingTo: errorURL)
    process.standardOutput = output
    process.standardError = errorFile
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try errorFile.close()
    let errorData = (try? Data(contentsOf: errorURL)) ?? Data()
    return ProcessResult(
        status: process.terminationStatus,
        killedBySignal: process.terminationReason == .uncaughtSignal,
        standardOutput: String(decoding: outputData, as: UTF8.self),
        standardError: String(decoding: errorData, as: UTF8.self))
}
