public import Foundation

/// The period of a quota: a calendar window in the tenant's time zone, or none for a gauge.
public enum QuotaPeriod: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// One clock minute.
    case minute
    /// One clock hour; during a daylight-saving change it is still one hour of real time.
    case hour
    /// One calendar day, from midnight to midnight: 23 or 25 hours on daylight-saving days.
    case day
    /// One ISO week, from Monday 00:00 to the next Monday 00:00.
    case week
    /// One calendar month, from the first day 00:00 to the first day of the next month.
    case month
    /// No window: a gauge (storage bytes, users) that goes up with charges and down with
    /// ``QuotaManager/decrement(_:tenantID:by:)``.
    case none

    public var description: String { rawValue }

    /// The position of this period in ``allCases``, without a search.
    var ordinal: UInt8 {
        switch self {
        case .minute: 0
        case .hour: 1
        case .day: 2
        case .week: 3
        case .month: 4
        case .none: 5
        }
    }

    /// Creates a period from its name, as configuration files and the CLI spell it.
    ///
    /// - Throws: ``ValidationError`` naming the value and the known periods.
    public init(validating name: String) throws {
        guard let period = QuotaPeriod(rawValue: name) else {
            throw ValidationError(
                .invalidArgument, field: "period",
                message: "invalid quota period \(TenantID.quotedForMessage(name)): expected one of "
                    + Self.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = period
    }

    /// Returns the window of this period that contains `instant`, in `timeZone`.
    ///
    /// This is the one place where window boundaries are computed. It calls `Calendar`, which
    /// costs microseconds on Linux, so decisions go through ``QuotaWindowCache``, which calls
    /// it once per window. Days, weeks and months are calendar units, so a day in a
    /// daylight-saving change is 23 or 25 hours long and a month ends on its last day.
    public func window(containing instant: Date, in timeZone: TimeZone) -> QuotaWindow {
        let component: Calendar.Component
        switch self {
        case .none: return .unbounded
        case .minute: component = .minute
        case .hour: component = .hour
        case .day: component = .day
        case .week: component = .weekOfYear
        case .month: component = .month
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        // ISO 8601 weeks: Monday first, week 1 is the week with the year's first Thursday.
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        guard let interval = calendar.dateInterval(of: component, for: instant) else {
            preconditionFailure("Calendar returned no \(self) window for \(instant) in \(timeZone.identifier)")
        }
        return QuotaWindow(
            startMilliseconds: Self.milliseconds(interval.start),
            endMilliseconds: Self.milliseconds(interval.end))
    }

    /// Window boundaries are whole seconds, so rounding to the nearest millisecond is exact.
    private static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}

/// A half-open interval of time, `[start, end)`, in which one quota counter accumulates.
///
/// Instants are integer milliseconds since 1970, the precision every store keeps. The window
/// of a gauge (``QuotaPeriod/none``) is ``unbounded``.
public struct QuotaWindow: Hashable, Sendable, Codable {
    /// The first millisecond of the window.
    public let startMilliseconds: Int64
    /// The first millisecond after the window; `Int64.max` for the unbounded window.
    public let endMilliseconds: Int64

    /// Creates a window; `start` must be before `end`.
    public init(startMilliseconds: Int64, endMilliseconds: Int64) {
        precondition(startMilliseconds < endMilliseconds, "a quota window must start before it ends")
        self.startMilliseconds = startMilliseconds
        self.endMilliseconds = endMilliseconds
    }

    /// The window of a gauge, which never rolls over.
    public static let unbounded = QuotaWindow(startMilliseconds: 0, endMilliseconds: .max)

    /// Whether this is the window of a gauge.
    public var isUnbounded: Bool { endMilliseconds == .max }

    /// The first instant of the window.
    public var start: Date { Date(millisecondsSince1970: startMilliseconds) }

    /// The first instant after the window, or nil for the unbounded window.
    public var end: Date? { isUnbounded ? nil : Date(millisecondsSince1970: endMilliseconds) }

    /// Whether the window contains the instant `milliseconds`.
    public func contains(_ milliseconds: Int64) -> Bool {
        startMilliseconds <= milliseconds && milliseconds < endMilliseconds
    }
}
