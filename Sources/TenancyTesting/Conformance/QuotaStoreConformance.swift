import Foundation
public import Tenancy
import Testing

/// The checks every ``QuotaStore`` must pass, for the bundled stores and your own.
///
/// Call ``run(_:)`` from a Swift Testing test with a factory that returns a fresh, empty
/// store; each check gets its own store.
public enum QuotaStoreConformance {
    /// One conformance check.
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case chargeUpToTheLimitExactly
        case rejectionChargesNoLine
        case chargeAboveLimitStoresNothing
        case newWindowStartsAtZero
        case olderWindowCountsAgainstNewer
        case refundOncePerChargeAndWindow
        case decrementStopsAtZero
        case leasesCountUntilReleaseOrExpiry
        case resetAndPurgeRemoveOnlyTheirSubject
        case concurrentChargesAreExact

        public var description: String { rawValue }
    }

    /// Runs every check, each against a new store from `makeStore`.
    public static func run(_ makeStore: @Sendable () async throws -> any QuotaStore) async throws {
        for check in Check.allCases {
            try await run(check, makeStore)
        }
    }

    /// Runs one check against a new store from `makeStore`.
    public static func run(_ check: Check, _ makeStore: @Sendable () async throws -> any QuotaStore) async throws {
        let store = try await makeStore()
        switch check {
        case .chargeUpToTheLimitExactly: try await chargeUpToTheLimitExactly(store)
        case .rejectionChargesNoLine: try await rejectionChargesNoLine(store)
        case .chargeAboveLimitStoresNothing: try await chargeAboveLimitStoresNothing(store)
        case .newWindowStartsAtZero: try await newWindowStartsAtZero(store)
        case .olderWindowCountsAgainstNewer: try await olderWindowCountsAgainstNewer(store)
        case .refundOncePerChargeAndWindow: try await refundOncePerChargeAndWindow(store)
        case .decrementStopsAtZero: try await decrementStopsAtZero(store)
        case .leasesCountUntilReleaseOrExpiry: try await leasesCountUntilReleaseOrExpiry(store)
        case .resetAndPurgeRemoveOnlyTheirSubject: try await resetAndPurgeRemoveOnlyTheirSubject(store)
        case .concurrentChargesAreExact: try await concurrentChargesAreExact(store)
        }
    }

    static let minute = QuotaWindow(startMilliseconds: 1_767_225_600_000, endMilliseconds: 1_767_225_660_000)
    static let nextMinute = QuotaWindow(startMilliseconds: 1_767_225_660_000, endMilliseconds: 1_767_225_720_000)

    static func key(_ tenant: TenantID, _ quota: String = "debates", _ period: QuotaPeriod = .minute) -> QuotaCounterKey {
        QuotaCounterKey(subject: .tenant(tenant), quota: quota, period: period)
    }

    static func line(_ key: QuotaCounterKey, _ amount: Int, limit: Int, window: QuotaWindow = minute) -> QuotaChargeLine {
        QuotaChargeLine(key: key, window: window, amount: amount, limit: limit)
    }

    static func used(_ store: any QuotaStore, _ key: QuotaCounterKey, window: QuotaWindow = minute) async throws -> Int {
        try await store.used([(key, window)])[0]
    }

    static func chargeUpToTheLimitExactly(_ store: any QuotaStore) async throws {
        let debates = key("acme-corp")
        #expect(try await store.charge([line(debates, 3, limit: 5)]) == .charged(usedAfter: [3]))
        #expect(try await store.charge([line(debates, 2, limit: 5)]) == .charged(usedAfter: [5]))
        #expect(try await store.charge([line(debates, 1, limit: 5)]) == .rejected(lineIndex: 0, used: 5))
        #expect(try await used(store, debates) == 5)
    }

    static func rejectionChargesNoLine(_ store: any QuotaStore) async throws {
        let own = key("acme-corp")
        let shared = QuotaCounterKey(subject: .global, quota: "debates", period: .minute)
        #expect(try await store.charge([line(own, 1, limit: 1)]) == .charged(usedAfter: [1]))

        let outcome = try await store.charge([line(shared, 1, limit: 5), line(own, 1, limit: 1)])
        #expect(outcome == .rejected(lineIndex: 1, used: 1))
        #expect(try await used(store, shared) == 0)
        #expect(try await used(store, own) == 1)
    }

    static func chargeAboveLimitStoresNothing(_ store: any QuotaStore) async throws {
        let debates = key("acme-corp")
        #expect(try await store.charge([line(debates, 11, limit: 10)]) == .rejected(lineIndex: 0, used: 0))
        #expect(try await used(store, debates) == 0)
        #expect(try await store.charge([line(debates, 1, limit: 0)]) == .rejected(lineIndex: 0, used: 0))
        #expect(try await store.charge([line(debates, 10, limit: 10)]) == .charged(usedAfter: [10]))
    }

    static func newWindowStartsAtZero(_ store: any QuotaStore) async throws {
        let debates = key("acme-corp")
        _ = try await store.charge([line(debates, 4, limit: 4)])
        #expect(try await store.charge([line(debates, 4, limit: 4, window: nextMinute)]) == .charged(usedAfter: [4]))
        #expect(try await used(store, debates, window: nextMinute) == 4)
    }

    static func olderWindowCountsAgainstNewer(_ store: any QuotaStore) async throws {
        let debates = key("acme-corp")
        _ = try await store.charge([line(debates, 3, limit: 4, window: nextMinute)])
        #expect(try await store.charge([line(debates, 2, limit: 4, window: minute)]) == .rejected(lineIndex: 0, used: 3))
        #expect(try await used(store, debates, window: minute) == 3)
    }

    static func refundOncePerChargeAndWindow(_ store: any QuotaStore) async throws {
        let debates = key("acme-corp")
        let charged = [line(debates, 3, limit: 10)]
        _ = try await store.charge([line(debates, 2, limit: 10)])
        _ = try await store.charge(charged)
        let id = UUID()
        let end = minute.endMilliseconds

        #expect(try await store.refund(chargeID: id, tenantID: "acme-corp", lines: charged, keepUntil: end, now: minute.startMilliseconds))
        #expect(try await used(store, debates) == 2)
        #expect(try await store.refund(chargeID: id, tenantID: "acme-corp", lines: charged, keepUntil: end, now: minute.startMilliseconds) == false)
        #expect(try await used(store, debates) == 2)

        let large = [line(debates, 50, limit: 100)]
        #expect(try await store.refund(chargeID: UUID(), tenantID: "acme-corp", lines: large, keepUntil: end, now: minute.startMilliseconds))
        #expect(try await used(store, debates) == 0)

        _ = try await store.charge([line(debates, 6, limit: 10, window: nextMinute)])
        #expect(try await store.refund(chargeID: UUID(), tenantID: "acme-corp", lines: charged, keepUntil: end, now: nextMinute.startMilliseconds))
        #expect(try await used(store, debates, window: nextMinute) == 6)
    }

    static func decrementStopsAtZero(_ store: any QuotaStore) async throws {
        let bytes = key("acme-corp", "storage_bytes", .none)
        #expect(try await store.decrement(bytes, by: 5) == 0)
        _ = try await store.charge([line(bytes, 1_000, limit: 4_096, window: .unbounded)])
        #expect(try await store.decrement(bytes, by: 400) == 600)
        #expect(try await store.decrement(bytes, by: 10_000) == 0)
        #expect(try await used(store, bytes, window: .unbounded) == 0)
    }

    static func leasesCountUntilReleaseOrExpiry(_ store: any QuotaStore) async throws {
        let slots = key("acme-corp", "concurrent_debates", .none)
        let first = UUID()
        let second = UUID()
        #expect(try await store.acquireLease(first, key: slots, limit: 2, now: 1_000, expiresAt: 5_000) == .acquired(active: 1))
        #expect(try await store.acquireLease(second, key: slots, limit: 2, now: 1_000, expiresAt: 9_000) == .acquired(active: 2))
        #expect(try await store.acquireLease(UUID(), key: slots, limit: 2, now: 1_000, expiresAt: 9_000) == .rejected(active: 2))
        #expect(try await store.activeLeases(slots, now: 1_000) == 2)

        #expect(try await store.releaseLease(second, key: slots))
        #expect(try await store.releaseLease(second, key: slots) == false)
        #expect(try await store.activeLeases(slots, now: 1_000) == 1)

        #expect(try await store.activeLeases(slots, now: 5_000) == 0)
        #expect(try await store.acquireLease(UUID(), key: slots, limit: 1, now: 5_000, expiresAt: 9_000) == .acquired(active: 1))
        #expect(try await store.releaseLease(first, key: slots) == false)
    }

    static func resetAndPurgeRemoveOnlyTheirSubject(_ store: any QuotaStore) async throws {
        let acme = key("acme-corp")
        let acmeTokens = key("acme-corp", "tokens")
        let globex = key("globex")
        let global = QuotaCounterKey(subject: .global, quota: "debates", period: .minute)
        _ = try await store.charge([line(acme, 1, limit: 9), line(acmeTokens, 7, limit: 9), line(globex, 2, limit: 9), line(global, 3, limit: 9)])
        _ = try await store.acquireLease(UUID(), key: key("acme-corp", "concurrent_debates", .none), limit: 3, now: 0, expiresAt: 10_000)

        #expect(try await store.reset(.tenant("acme-corp"), quota: "tokens") == 1)
        #expect(try await used(store, acmeTokens) == 0)
        #expect(try await used(store, acme) == 1)

        _ = try await store.refund(chargeID: UUID(), tenantID: "acme-corp", lines: [line(acme, 1, limit: 9)], keepUntil: .max, now: 0)
        #expect(try await store.purge("acme-corp") == 3)
        #expect(try await store.activeLeases(key("acme-corp", "concurrent_debates", .none), now: 0) == 0)
        #expect(try await used(store, globex) == 2)
        #expect(try await used(store, global) == 3)
        #expect(try await store.purge("acme-corp") == 0)
    }

    static func concurrentChargesAreExact(_ store: any QuotaStore) async throws {
        let debates = key("acme-corp")
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    var admitted = 0
                    for _ in 0..<4 {
                        if case .charged = try await store.charge([line(debates, 1, limit: 100)]) { admitted += 1 }
                    }
                    return admitted
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(admitted == 100)
        #expect(try await used(store, debates) == 100)
    }
}
