public import Tenancy
import Testing

/// The checks every ``RateLimitStore`` must pass, for the bundled stores and your own.
///
/// Call ``run(_:)`` from a Swift Testing test with a factory that returns a fresh, empty
/// store; each check gets its own store.
public enum RateLimitStoreConformance {
    /// One conformance check.
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case burstThenRefill
        case refusalStoresNothing
        case allBucketsOrNone
        case resetAndPurgeRemoveOnlyTheirSubject
        case concurrentDecisionsAreExact

        public var description: String { rawValue }
    }

    /// Runs every check, each against a new store from `makeStore`.
    public static func run(_ makeStore: @Sendable () async throws -> any RateLimitStore) async throws {
        for check in Check.allCases {
            try await run(check, makeStore)
        }
    }

    /// Runs one check against a new store from `makeStore`.
    public static func run(_ check: Check, _ makeStore: @Sendable () async throws -> any RateLimitStore) async throws {
        let store = try await makeStore()
        switch check {
        case .burstThenRefill: try await burstThenRefill(store)
        case .refusalStoresNothing: try await refusalStoresNothing(store)
        case .allBucketsOrNone: try await allBucketsOrNone(store)
        case .resetAndPurgeRemoveOnlyTheirSubject: try await resetAndPurgeRemoveOnlyTheirSubject(store)
        case .concurrentDecisionsAreExact: try await concurrentDecisionsAreExact(store)
        }
    }

    /// 1 unit per second, bursts of 3.
    static let bucket = GCRA.Bucket(emissionInterval: 1_000_000_000, burst: 3)
    static let start: Int64 = 1_767_225_600_000_000_000

    static func request(_ tenant: TenantID, _ key: String = "api", bucket: GCRA.Bucket = bucket) -> RateLimitBucketRequest {
        RateLimitBucketRequest(key: RateLimitBucketKey(subject: .tenant(tenant), key: key), bucket: bucket)
    }

    static func burstThenRefill(_ store: any RateLimitStore) async throws {
        let acme = request("acme-corp")
        #expect(try await store.acquire([acme], cost: 1, now: start).map(\.remaining) == [2])
        #expect(try await store.acquire([acme], cost: 2, now: start).map(\.remaining) == [0])
        let refused = try await store.acquire([acme], cost: 1, now: start)
        #expect(refused.map(\.allowed) == [false])
        #expect(refused.map(\.retryAfter) == [1_000_000_000])
        #expect(refused.map(\.resetAfter) == [3_000_000_000])

        let later = try await store.acquire([acme], cost: 1, now: start + 1_500_000_000)
        #expect(later.map(\.allowed) == [true])
        #expect(later.map(\.remaining) == [0])
    }

    static func refusalStoresNothing(_ store: any RateLimitStore) async throws {
        let acme = request("acme-corp")
        _ = try await store.acquire([acme], cost: 2, now: start)
        #expect(try await store.acquire([acme], cost: 2, now: start).map(\.allowed) == [false])
        #expect(try await store.acquire([acme], cost: 4, now: start).map(\.retryAfter) == [nil])
        #expect(try await store.acquire([acme], cost: 1, now: start).map(\.allowed) == [true])
    }

    static func allBucketsOrNone(_ store: any RateLimitStore) async throws {
        let acme = request("acme-corp")
        let global = RateLimitBucketRequest(
            key: RateLimitBucketKey(subject: .global, key: "api"), bucket: GCRA.Bucket(emissionInterval: 1_000_000_000, burst: 1))
        #expect(try await store.acquire([acme, global], cost: 1, now: start).map(\.allowed) == [true, true])
        #expect(try await store.acquire([acme, global], cost: 1, now: start).map(\.allowed) == [true, false])
        #expect(try await store.acquire([acme], cost: 2, now: start).map(\.allowed) == [true])
    }

    static func resetAndPurgeRemoveOnlyTheirSubject(_ store: any RateLimitStore) async throws {
        _ = try await store.acquire([request("acme-corp"), request("acme-corp", "export"), request("globex")], cost: 3, now: start)
        #expect(try await store.reset(.tenant("acme-corp"), key: "export") == 1)
        #expect(try await store.acquire([request("acme-corp", "export")], cost: 3, now: start).map(\.allowed) == [true])
        #expect(try await store.purge("acme-corp") == 2)
        #expect(try await store.acquire([request("acme-corp")], cost: 3, now: start).map(\.allowed) == [true])
        #expect(try await store.acquire([request("globex")], cost: 1, now: start).map(\.allowed) == [false])
    }

    static func concurrentDecisionsAreExact(_ store: any RateLimitStore) async throws {
        let acme = request("acme-corp", bucket: GCRA.Bucket(emissionInterval: 1_000_000_000, burst: 50))
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<32 {
                group.addTask {
                    var admitted = 0
                    for _ in 0..<4 where try await store.acquire([acme], cost: 1, now: start)[0].allowed {
                        admitted += 1
                    }
                    return admitted
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(admitted == 50)
    }
}
