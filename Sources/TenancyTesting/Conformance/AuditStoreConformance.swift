import Foundation
public import Tenancy
import Testing

/// The checks every ``AuditStore`` must pass, for the bundled stores and your own.
///
/// Call ``run(_:)`` from a Swift Testing test with a factory that returns a fresh, empty
/// store. Each check gets its own store.
public enum AuditStoreConformance {
    /// One conformance check.
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case appendAssignsIncreasingSequences
        case recordsRoundTripEveryField
        case recordsFilterByTenant
        case recordsPageAfterSequence

        public var description: String { rawValue }
    }

    /// Runs every check, each against a new store from `makeStore`.
    public static func run(_ makeStore: @Sendable () async throws -> any AuditStore) async throws {
        for check in Check.allCases {
            try await run(check, makeStore)
        }
    }

    /// Runs one check against a new store from `makeStore`.
    public static func run(_ check: Check, _ makeStore: @Sendable () async throws -> any AuditStore) async throws {
        let store = try await makeStore()
        switch check {
        case .appendAssignsIncreasingSequences: try await appendAssignsIncreasingSequences(store)
        case .recordsRoundTripEveryField: try await recordsRoundTripEveryField(store)
        case .recordsFilterByTenant: try await recordsFilterByTenant(store)
        case .recordsPageAfterSequence: try await recordsPageAfterSequence(store)
        }
    }

    static func record(_ index: Int, tenant: TenantID?) -> AuditRecord {
        AuditRecord(
            time: Date(millisecondsSince1970: 1_700_000_000_000 + Int64(index)), tenantID: tenant,
            principalID: "user-\(index)", action: .statusChanged, outcome: .success, detail: "step \(index)")
    }

    static func appendAssignsIncreasingSequences(_ store: any AuditStore) async throws {
        // The caller's sequences are deliberately out of order: the store assigns its own.
        var first = record(1, tenant: "acme-corp")
        first.sequence = 1_000_000
        var second = record(2, tenant: "acme-corp")
        second.sequence = 5
        let third = record(3, tenant: nil)

        let appended = [
            try await store.append(first), try await store.append(second), try await store.append(third),
        ]
        let sequences = try appended.map { try #require($0.sequence) }
        #expect(sequences[0] < sequences[1])
        #expect(sequences[1] < sequences[2])

        for (index, input) in [first, second, third].enumerated() {
            var expected = input
            expected.sequence = sequences[index]
            #expect(appended[index] == expected)
        }

        let stored = try await store.records(AuditQuery())
        #expect(stored == appended)
    }

    static func recordsRoundTripEveryField(_ store: any AuditStore) async throws {
        let full = AuditRecord(
            time: Date(millisecondsSince1970: 1_700_000_000_123), tenantID: "acme-corp", principalID: "user:42",
            action: .crossTenantAccess, outcome: .denied,
            detail: "from=globex; reason: support ticket \"T-7\" it's urgent; ünïcode")
        let bare = AuditRecord(
            time: Date(millisecondsSince1970: 1_700_000_000_999), tenantID: nil, principalID: nil,
            action: "app.custom-action", outcome: .failed, detail: nil)
        let plain = AuditRecord(
            time: Date(millisecondsSince1970: 1_700_000_001_000), tenantID: "globex", principalID: nil,
            action: .tenantCreated, outcome: .success, detail: "")

        let appended = [try await store.append(full), try await store.append(bare), try await store.append(plain)]
        let stored = try await store.records(AuditQuery())

        #expect(stored == appended)
        try #require(stored.count == 3)
        #expect(stored[0].time.millisecondsSince1970 == 1_700_000_000_123)
        #expect(stored[0].tenantID == "acme-corp")
        #expect(stored[0].principalID == "user:42")
        #expect(stored[0].action == .crossTenantAccess)
        #expect(stored[0].outcome == .denied)
        #expect(stored[0].detail == "from=globex; reason: support ticket \"T-7\" it's urgent; ünïcode")
        #expect(stored[1].tenantID == nil)
        #expect(stored[1].principalID == nil)
        #expect(stored[1].action == "app.custom-action")
        #expect(stored[1].outcome == .failed)
        #expect(stored[1].detail == nil)
        #expect(stored[2].outcome == .success)
        #expect(stored[2].detail == "")
    }

    static func recordsFilterByTenant(_ store: any AuditStore) async throws {
        let tenants: [TenantID?] = ["acme-corp", "globex", nil, "acme-corp", "globex", "acme-corp"]
        var appended: [AuditRecord] = []
        for (index, tenant) in tenants.enumerated() {
            appended.append(try await store.append(record(index, tenant: tenant)))
        }

        let acme = try await store.records(AuditQuery(tenantID: "acme-corp"))
        #expect(acme == [appended[0], appended[3], appended[5]])

        let globex = try await store.records(AuditQuery(tenantID: "globex"))
        #expect(globex == [appended[1], appended[4]])

        let unknown = try await store.records(AuditQuery(tenantID: "initech"))
        #expect(unknown == [])

        let all = try await store.records(AuditQuery())
        #expect(all == appended)
    }

    static func recordsPageAfterSequence(_ store: any AuditStore) async throws {
        var appended: [AuditRecord] = []
        for index in 0..<7 {
            appended.append(try await store.append(record(index, tenant: index % 2 == 0 ? "acme-corp" : "globex")))
        }

        let first = try await store.records(AuditQuery(limit: 3))
        #expect(first == Array(appended[0..<3]))

        let second = try await store.records(AuditQuery(afterSequence: first.last?.sequence, limit: 3))
        #expect(second == Array(appended[3..<6]))

        let third = try await store.records(AuditQuery(afterSequence: second.last?.sequence, limit: 3))
        #expect(third == [appended[6]])

        let pastTheEnd = try await store.records(AuditQuery(afterSequence: third.last?.sequence, limit: 3))
        #expect(pastTheEnd == [])

        // Paging and the tenant filter combine: acme-corp has records 0, 2, 4 and 6.
        let acmeAfterSecond = try await store.records(
            AuditQuery(tenantID: "acme-corp", afterSequence: appended[2].sequence, limit: 1))
        #expect(acmeAfterSecond == [appended[4]])
    }
}
