#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
package import Foundation
import Synchronization
import Testing

/// Runs child processes for tests with `posix_spawn` and `waitpid`, without `Foundation.Process`.
///
/// `Process.run()` in swift-corelibs-foundation with Swift 6.3.1 crashes now and then with a
/// segmentation fault: it copies a whole 256-byte `d_name` out of each `/proc/self/fd` directory
/// entry, which can read past the end of glibc's buffer (fixed upstream in
/// swift-corelibs-foundation pull request 5472, not in this toolchain). Test suites that start
/// many children hit it in about one run in five, so the tests start children here instead.
package enum ProcessLaunch {
    /// How a child ended.
    package struct Termination: Sendable {
        /// The exit status, or 128 plus the signal number when a signal ended it.
        package let status: Int32
        /// The signal that ended the child, if one did.
        package let signal: Int32?
    }

    /// A finished child with its output.
    package struct Output: Sendable {
        package let termination: Termination
        package let standardOutput: String
        package let standardError: String
    }

    /// Runs `executable` with `arguments` and `environment` to its end, with standard input from
    /// `/dev/null` and standard output and error written to the given files, in
    /// `currentDirectory` when one is given (through `env -C`, which GNU coreutils provides).
    /// A child still running after `timeout` is sent SIGTERM.
    package static func run(
        _ executable: String, arguments: [String], environment: [String: String], currentDirectory: String? = nil,
        standardOutput: String, standardError: String, timeout: Duration? = nil
    ) async throws -> Termination {
        var program = executable
        var argv = [executable] + arguments
        if let currentDirectory {
            program = "/usr/bin/env"
            argv = ["/usr/bin/env", "-C", currentDirectory, executable] + arguments
        }
        let envp = environment.map { "\($0.key)=\($0.value)" }
        let pid = try spawn(program, argv, envp, standardOutput: standardOutput, standardError: standardError)
        let finished = FinishedFlag()
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            let delay = DispatchTimeInterval.nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) {
                if !finished.value.load(ordering: .acquiring) { _ = kill(pid, SIGTERM) }
            }
        }
        return await withCheckedContinuation { continuation in
            // waitpid blocks for as long as the child runs, so it gets a thread of its own. On
            // Linux, DispatchQueue.global() shares its few threads with Swift's cooperative
            // pool, and two waiting children there stalled every other test's tasks for
            // seconds.
            let waiter = Thread {
                let termination = wait(for: pid)
                finished.value.store(true, ordering: .releasing)
                continuation.resume(returning: termination)
            }
            waiter.name = "tenancy.process-wait"
            waiter.start()
        }
    }

    /// Runs a child like ``run(_:arguments:environment:currentDirectory:standardOutput:standardError:timeout:)``
    /// with its output in temporary files, and returns the output as text.
    package static func runCollectingOutput(
        _ executable: String, arguments: [String], environment: [String: String], currentDirectory: String? = nil,
        timeout: Duration? = nil
    ) async throws -> Output {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputPath = directory.appendingPathComponent("stdout").path
        let errorPath = directory.appendingPathComponent("stderr").path
        let termination = try await run(
            executable, arguments: arguments, environment: environment, currentDirectory: currentDirectory,
            standardOutput: outputPath, standardError: errorPath, timeout: timeout)
        func text(_ path: String) -> String {
            String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        return Output(termination: termination, standardOutput: text(outputPath), standardError: text(errorPath))
    }

    /// Set once the child has been waited for, so the timeout no longer signals its pid.
    private final class FinishedFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    private static func spawn(
        _ program: String, _ argv: [String], _ envp: [String], standardOutput: String, standardError: String
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = envp.map { strdup($0) } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, program, &actions, nil, cArguments, cEnvironment)
        guard code == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "posix_spawn of \(program) failed: \(String(cString: strerror(code)))"])
        }
        return pid
    }

    private static func wait(for pid: pid_t) -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7F
        if signal != 0 && signal != 0x7F {
            return Termination(status: 128 + signal, signal: signal)
        }
        return Termination(status: (status >> 8) & 0xFF, signal: nil)
    }
}

/// The outcome of ``runChildProcess(_:_:environment:)``.
package struct ProcessResult: Sendable {
    /// The exit status, or the signal number when a signal ended the child.
    package let status: Int32
    package let killedBySignal: Bool
    package let standardOutput: String
    package let standardError: String
}

/// Returns the executable `name` that `swift build` put next to the test bundle, recording an
/// issue and throwing when it is missing.
package func builtExecutable(_ name: String) throws -> URL {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    Issue.record("the executable '\(name)' was not found next to the test bundle; run `swift build` first")
    throw CocoaError(.fileNoSuchFile)
}

/// Runs an executable to completion with this process's environment (without
/// `TENANCY_FAULT`) plus `environment`, and collects its output.
package func runChildProcess(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessResult {
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
