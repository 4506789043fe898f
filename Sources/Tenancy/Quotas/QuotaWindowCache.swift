public import Foundation
import Synchronization

/// Window boundaries and time zones, each computed once and reused until its window ends.
///
/// A decision looks up the window of `(time zone, period)`; while the instant lies inside the
/// cached window no `Calendar` call happens. The cache holds one window per time zone and
/// period, so it stays as small as the set of time zones in use.
public final class QuotaWindowCache: Sendable {
    private struct Key: Hashable {
        let timeZone: String
        let period: QuotaPeriod
    }

    private let windows = Mutex<[Key: QuotaWindow]>([:])
    private let timeZones = Mutex<[String: TimeZone]>([:])

    /// Creates an empty cache.
    public init() {}

    /// Returns the window of `period` that contains the instant `milliseconds` in the time zone
    /// with this IANA identifier.
    ///
    /// - Throws: ``ValidationError`` when the identifier names no time zone.
    public func window(_ period: QuotaPeriod, containing milliseconds: Int64, timeZone identifier: String) throws -> QuotaWindow {
        if period == .none { return .unbounded }
        let key = Key(timeZone: identifier, period: period)
        if let cached = windows.withLock({ $0[key] }), cached.contains(milliseconds) {
            return cached
        }
        let timeZone = try self.timeZone(identifier)
        let window = period.window(containing: Date(millisecondsSince1970: milliseconds), in: timeZone)
        windows.withLock { $0[key] = window }
        return window
    }

    /// Returns the time zone with this IANA identifier, created once.
    ///
    /// - Throws: ``ValidationError`` when the identifier names no time zone.
    public func timeZone(_ identifier: String) throws -> TimeZone {
        if let cached = timeZones.withLock({ $0[identifier] }) { return cached }
        let validated = try InputRules.validatedTimeZone(identifier)
        guard let timeZone = TimeZone(identifier: validated) else {
            throw ValidationError(
                .invalidTimeZone, field: "time zone",
                message: "invalid time zone \(TenantID.quotedForMessage(identifier)): not known to this system's time zone database")
        }
        timeZones.withLock { $0[identifier] = timeZone }
        return timeZone
    }
}
