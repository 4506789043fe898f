public import Foundation
import Synchronization

/// Window boundaries and time zones, each computed once and reused until its window ends.
///
/// A decision looks up the window of `(time zone, period)`; while the instant lies inside the
/// cached window no `Calendar` call happens. The cache holds one window per time zone and
/// period, so it stays as small as the set of time zones in use.
public final class QuotaWindowCache: Sendable {
    private let zones = Mutex<[String: QuotaZoneWindows]>([:])

    /// Creates an empty cache.
    public init() {}

    /// Returns the window of `period` that contains the instant `milliseconds` in the time zone
    /// with this IANA identifier.
    ///
    /// - Throws: ``ValidationError`` when the identifier names no time zone.
    public func window(_ period: QuotaPeriod, containing milliseconds: Int64, timeZone identifier: String) throws -> QuotaWindow {
        if period == .none { return .unbounded }
        return try slot(period, timeZone: identifier).window(containing: milliseconds)
    }

    /// Returns the time zone with this IANA identifier, created once.
    ///
    /// - Throws: ``ValidationError`` when the identifier names no time zone.
    public func timeZone(_ identifier: String) throws -> TimeZone {
        try zone(identifier).timeZone
    }

    /// Returns the slot that caches the current window of `period` in a time zone. A manager
    /// keeps the slots of the time zones it always uses, so its decisions skip this lookup.
    ///
    /// - Precondition: `period` is not ``QuotaPeriod/none``, which has no window to cache.
    /// - Throws: ``ValidationError`` when the identifier names no time zone.
    func slot(_ period: QuotaPeriod, timeZone identifier: String) throws -> QuotaWindowSlot {
        try zone(identifier).slot(period)
    }

    private func zone(_ identifier: String) throws -> QuotaZoneWindows {
        if let cached = zones.withLock({ $0[identifier] }) { return cached }
        let validated = try InputRules.validatedTimeZone(identifier)
        guard let timeZone = TimeZone(identifier: validated) else {
            throw ValidationError(
                .invalidTimeZone, field: "time zone",
                message: "invalid time zone \(TenantID.quotedForMessage(identifier)): not known to this system's time zone database")
        }
        let created = QuotaZoneWindows(timeZone: timeZone)
        // Two callers may create the same zone at once; both then use the first one stored.
        return zones.withLock { zones in
            if let stored = zones[identifier] { return stored }
            zones[identifier] = created
            return created
        }
    }
}

/// The window slots of one time zone, one per windowed period.
final class QuotaZoneWindows: Sendable {
    let timeZone: TimeZone
    private let slots: [QuotaWindowSlot]

    init(timeZone: TimeZone) {
        self.timeZone = timeZone
        slots = QuotaPeriod.allCases.map { QuotaWindowSlot(period: $0, timeZone: timeZone) }
    }

    func slot(_ period: QuotaPeriod) -> QuotaWindowSlot {
        precondition(period != .none, "a gauge has no window slot")
        let slot = slots[Int(period.ordinal)]
        precondition(slot.period == period, "window slots are stored in QuotaPeriod.allCases order")
        return slot
    }
}

/// The current window of one period in one time zone, readable without a lock.
///
/// The window is two 64-bit values, which no portable atomic load reads together, so the slot
/// is a sequence lock. A writer makes `sequence` odd, stores the bounds and makes it even
/// again. A reader loads `sequence`, then the bounds, then `sequence` again, and uses the
/// bounds only when both loads saw the same even value. Those bounds are then a pair that one
/// writer stored, because a writer that overlapped the reads would have changed the sequence.
/// The bounds are atomics too (relaxed), so the racing reads are not data races. The acquiring
/// fence keeps the reader's bound loads before its second sequence load, and the releasing
/// fence keeps the writer's odd sequence store before its bound stores. A reader that loses
/// the race computes the window with `Calendar` instead, so it never waits.
final class QuotaWindowSlot: Sendable {
    let period: QuotaPeriod
    let timeZone: TimeZone
    private let sequence = Atomic<Int>(0)
    private let start = Atomic<Int64>(0)
    private let end = Atomic<Int64>(0)

    init(period: QuotaPeriod, timeZone: TimeZone) {
        self.period = period
        self.timeZone = timeZone
    }

    /// Returns the window that contains `milliseconds`, computing it with `Calendar` only
    /// when the cached one does not contain the instant.
    func window(containing milliseconds: Int64) -> QuotaWindow {
        let before = sequence.load(ordering: .acquiring)
        let cachedStart = start.load(ordering: .relaxed)
        let cachedEnd = end.load(ordering: .relaxed)
        atomicMemoryFence(ordering: .acquiring)
        let after = sequence.load(ordering: .relaxed)
        // An empty slot has start 0 and end 0, which contain no instant.
        if before == after, before & 1 == 0, cachedStart <= milliseconds, milliseconds < cachedEnd {
            return QuotaWindow(startMilliseconds: cachedStart, endMilliseconds: cachedEnd)
        }
        let window = period.window(containing: Date(millisecondsSince1970: milliseconds), in: timeZone)
        publish(window, over: before)
        return window
    }

    /// Stores `window` unless another writer started after the reader saw `seen`. The slot
    /// then keeps that writer's window, and the next reader that needs another one stores it.
    private func publish(_ window: QuotaWindow, over seen: Int) {
        guard seen & 1 == 0, sequence.compareExchange(expected: seen, desired: seen + 1, ordering: .relaxed).exchanged else {
            return
        }
        atomicMemoryFence(ordering: .releasing)
        start.store(window.startMilliseconds, ordering: .relaxed)
        end.store(window.endMilliseconds, ordering: .relaxed)
        sequence.store(seen + 2, ordering: .releasing)
    }
}
