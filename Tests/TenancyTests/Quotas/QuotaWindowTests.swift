import Foundation
import Tenancy
import Testing

@Suite("Quota windows")
struct QuotaWindowTests {
    let berlin = TimeZone(identifier: "Europe/Berlin")!
    let utc = TimeZone(identifier: "UTC")!

    @Test("Berlin day is 23 hours when clocks go forward")
    func berlinSpringForward() {
        let window = QuotaPeriod.day.window(containing: instant("2026-03-29T12:00:00Z"), in: berlin)
        #expect(window.startMilliseconds == milliseconds("2026-03-28T23:00:00Z"))
        #expect(window.endMilliseconds == milliseconds("2026-03-29T22:00:00Z"))
        #expect(window.endMilliseconds - window.startMilliseconds == 23 * 3_600_000)
    }

    @Test("Berlin day is 25 hours when clocks go back")
    func berlinFallBack() {
        let window = QuotaPeriod.day.window(containing: instant("2026-10-25T12:00:00Z"), in: berlin)
        #expect(window.startMilliseconds == milliseconds("2026-10-24T22:00:00Z"))
        #expect(window.endMilliseconds == milliseconds("2026-10-25T23:00:00Z"))
        #expect(window.endMilliseconds - window.startMilliseconds == 25 * 3_600_000)
    }

    @Test("Berlin hour during the repeated hour")
    func berlinRepeatedHour() {
        let first = QuotaPeriod.hour.window(containing: instant("2026-10-25T00:30:00Z"), in: berlin)
        let second = QuotaPeriod.hour.window(containing: instant("2026-10-25T01:30:00Z"), in: berlin)
        #expect(first.startMilliseconds == milliseconds("2026-10-25T00:00:00Z"))
        #expect(first.endMilliseconds == second.startMilliseconds)
        #expect(second.endMilliseconds == milliseconds("2026-10-25T02:00:00Z"))
    }

    @Test("month window across January 31 and February")
    func monthAcrossFebruary() {
        let january = QuotaPeriod.month.window(containing: instant("2026-01-31T23:59:59Z"), in: utc)
        let february = QuotaPeriod.month.window(containing: instant("2026-02-01T00:00:00Z"), in: utc)
        #expect(january.startMilliseconds == milliseconds("2026-01-01T00:00:00Z"))
        #expect(january.endMilliseconds == milliseconds("2026-02-01T00:00:00Z"))
        #expect(february.startMilliseconds == milliseconds("2026-02-01T00:00:00Z"))
        #expect(february.endMilliseconds == milliseconds("2026-03-01T00:00:00Z"))
    }

    @Test("ISO week 1 starts in the previous year")
    func isoWeekAcrossNewYear() {
        let week = QuotaPeriod.week.window(containing: instant("2025-12-31T12:00:00Z"), in: utc)
        #expect(week.startMilliseconds == milliseconds("2025-12-29T00:00:00Z"))
        #expect(week.endMilliseconds == milliseconds("2026-01-05T00:00:00Z"))
        let same = QuotaPeriod.week.window(containing: instant("2026-01-04T23:59:59Z"), in: utc)
        #expect(same == week)
    }

    @Test("ISO week 53 reaches into the next year")
    func isoWeek53() {
        let week = QuotaPeriod.week.window(containing: instant("2027-01-02T08:00:00Z"), in: utc)
        #expect(week.startMilliseconds == milliseconds("2026-12-28T00:00:00Z"))
        #expect(week.endMilliseconds == milliseconds("2027-01-04T00:00:00Z"))
    }

    @Test("minute and gauge windows")
    func minuteAndGauge() {
        let minute = QuotaPeriod.minute.window(containing: instant("2026-01-01T10:15:59Z"), in: berlin)
        #expect(minute.startMilliseconds == milliseconds("2026-01-01T10:15:00Z"))
        #expect(minute.endMilliseconds == milliseconds("2026-01-01T10:16:00Z"))
        #expect(QuotaPeriod.none.window(containing: instant("2026-01-01T10:15:59Z"), in: berlin) == .unbounded)
    }

    @Test("cache returns the window until it ends")
    func cacheRollsOver() throws {
        let cache = QuotaWindowCache()
        let first = try cache.window(.day, containing: milliseconds("2026-03-29T21:59:59Z"), timeZone: "Europe/Berlin")
        let next = try cache.window(.day, containing: milliseconds("2026-03-29T22:00:00Z"), timeZone: "Europe/Berlin")
        #expect(first.endMilliseconds == milliseconds("2026-03-29T22:00:00Z"))
        #expect(next.startMilliseconds == first.endMilliseconds)
        #expect(next.endMilliseconds == milliseconds("2026-03-30T22:00:00Z"))
        let earlier = try cache.window(.day, containing: milliseconds("2026-03-29T12:00:00Z"), timeZone: "Europe/Berlin")
        #expect(earlier == first)
    }

    @Test("cache stays exact while tasks roll windows over")
    func cacheConcurrentRollover() async throws {
        let cache = QuotaWindowCache()
        let base = milliseconds("2026-01-01T00:00:00Z")
        // Each task walks through 200 minutes at its own pace, so the one cached minute window
        // is replaced while other tasks read it. A torn read would pair one window's start
        // with another's end.
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var mismatches = 0
                    for step in 0..<4_000 {
                        let instant = base + Int64((step * (task + 1)) % 200) * 60_000 + Int64(step % 60) * 1_000
                        let window = try cache.window(.minute, containing: instant, timeZone: "UTC")
                        let start = instant - instant % 60_000
                        if window.startMilliseconds != start || window.endMilliseconds != start + 60_000 {
                            mismatches += 1
                        }
                    }
                    return mismatches
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    @Test("cache rejects an unknown time zone")
    func cacheRejectsUnknownZone() {
        #expect(throws: ValidationError.self) {
            try QuotaWindowCache().window(.day, containing: 0, timeZone: "Mars/Olympus")
        }
    }
}
