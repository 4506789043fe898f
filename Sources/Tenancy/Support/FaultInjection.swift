#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Crash points for tests of crash and resume.
///
/// `TENANCY_FAULT` is a comma-separated list of `<point>:<n>`. The process kills itself with
/// SIGKILL (a real crash: no clean-up, no flush) the n-th time it reaches a named point, so a
/// child process dies at an exact step instead of after a guessed delay. Without the variable
/// every point costs one atomic load.
package enum FaultInjection {
    private static let plan: [String: Int]? = parse(ProcessInfo.processInfo.environment["TENANCY_FAULT"])
    private static let hits = Mutex<[String: Int]>([:])

    /// Parses `TENANCY_FAULT` now, so a malformed value stops the process at start-up instead
    /// of when a point is first reached. ``TenantManager`` calls it when it is created.
    package static func validatePlan() {
        _ = plan
    }

    /// Marks that the process reached `point`; kills the process when the plan says so.
    package static func reach(_ point: String) {
        guard let plan, let target = plan[point] else { return }
        let count = hits.withLock { counts -> Int in
            counts[point, default: 0] += 1
            return counts[point]!
        }
        if count == target {
            kill(getpid(), SIGKILL)
        }
    }

    static func parse(_ value: String?) -> [String: Int]? {
        guard let value, !value.isEmpty else { return nil }
        var plan: [String: Int] = [:]
        for entry in value.split(separator: ",") {
            let parts = entry.split(separator: ":")
            guard parts.count == 2, let n = Int(parts[1]), n > 0 else {
                fatalError("invalid TENANCY_FAULT entry '\(entry)': expected <point>:<n> with n of 1 or more")
            }
            plan[String(parts[0]), default: 0] = n
        }
        return plan
    }
}
