package import Foundation
import Synchronization

/// Unique ids for charges and leases, made without a system call.
///
/// Foundation's `UUID()` on Linux reads the kernel's random source on every call, which cost
/// more than a whole in-memory quota decision (seen with `perf` on `tenancy-bench quotas`).
/// These ids are a random 64-bit prefix drawn once per process followed by a 64-bit counter:
/// unique within the process by the counter, and across processes unless two processes draw
/// the same prefix (a chance of about n²/2^65 for n processes). They are formatted as UUIDs so
/// stores keep one id type.
package enum UniqueID {
    private static let prefix: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()

    private static let counter = Atomic<UInt64>(0)

    /// Returns an id no earlier call in this process returned.
    package static func next() -> UUID {
        let sequence = counter.add(1, ordering: .relaxed).newValue
        let high = prefix
        return UUID(uuid: (
            UInt8(truncatingIfNeeded: high >> 56), UInt8(truncatingIfNeeded: high >> 48),
            UInt8(truncatingIfNeeded: high >> 40), UInt8(truncatingIfNeeded: high >> 32),
            UInt8(truncatingIfNeeded: high >> 24), UInt8(truncatingIfNeeded: high >> 16),
            UInt8(truncatingIfNeeded: high >> 8), UInt8(truncatingIfNeeded: high),
            UInt8(truncatingIfNeeded: sequence >> 56), UInt8(truncatingIfNeeded: sequence >> 48),
            UInt8(truncatingIfNeeded: sequence >> 40), UInt8(truncatingIfNeeded: sequence >> 32),
            UInt8(truncatingIfNeeded: sequence >> 24), UInt8(truncatingIfNeeded: sequence >> 16),
            UInt8(truncatingIfNeeded: sequence >> 8), UInt8(truncatingIfNeeded: sequence)))
    }
}
