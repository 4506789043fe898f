public import Foundation

/// The source of the current time for lifecycle timestamps, retention and quota windows.
///
/// Tests use a fixed clock (`FixedClock` in `TenancyTesting`); every store accepts the time it
/// is given, so a test can move through days without waiting.
public protocol TenancyClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The system's wall clock.
public struct SystemClock: TenancyClock {
    public init() {}

    public func now() -> Date { Date() }
}

extension Date {
    /// This instant truncated to whole milliseconds, the precision every store keeps.
    public var truncatedToMilliseconds: Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }

    /// Milliseconds since 1970, as stores persist instants.
    public var millisecondsSince1970: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// The instant `milliseconds` after 1970.
    public init(millisecondsSince1970 milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
