public import Foundation
public import Tenancy
import Synchronization

/// A clock that returns the same instant until the test moves it, so tests cross retention
/// periods and quota windows without waiting.
public final class FixedClock: TenancyClock {
    private let current: Mutex<Date>

    /// Creates a clock that reads `date` until it is moved.
    public init(_ date: Date) {
        current = Mutex(date)
    }

    public func now() -> Date {
        current.withLock { $0 }
    }

    /// Moves the clock forward by `duration`. Use ``set(_:)`` to move it back.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "advance(by:) takes a duration of zero or more; use set(_:) to move the clock back")
        let (seconds, attoseconds) = duration.components
        let interval = TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
        current.withLock { $0 = $0.addingTimeInterval(interval) }
    }

    /// Sets the clock to `date`.
    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}
