import Foundation
public import Tenancy
import Testing

/// The checks every ``TenantStore`` must pass, for the bundled stores and your own.
///
/// Call it from a Swift Testing test with a factory that returns a fresh, empty store. Each
/// check gets its own store:
///
/// ```swift
/// @Test func storeConforms() async throws {
///     try await TenantStoreConformance.run { try await MyTenantStore.temporary() }
/// }
/// ```
///
/// To see each check as its own test case, pass `TenantStoreConformance.Check.allCases` as
/// the test's arguments and call ``run(_:_:)`` with one check.
public enum TenantStoreConformance {
    /// One conformance check.
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case insertThenReadBack
        case duplicateInsertKeepsFirst
        case updateReturnsBeforeAndAfter
        case concurrentUpdatesAreAtomic
        case throwingUpdateStoresNothing
        case updateOfUnknownTenantThrows
        case listFiltersByStatusAndTier
        case listPagesWithoutGapsOrRepeats
        case listOrdersByIDBytes

        public var description: String { rawValue }
    }

    /// Runs every check, each against a new store from `makeStore`.
    public static func run(_ makeStore: @Sendable () async throws -> any TenantStore) async throws {
        for check in Check.allCases {
            try await run(check, makeStore)
        }
    }

    /// Runs one check against a new store from `makeStore`.
    public static func run(_ check: Check, _ makeStore: @Sendable () async throws -> any TenantStore) async throws {
        let store = try await makeStore()
        switch check {
        case .insertThenReadBack: try await insertThenReadBack(store)
        case .duplicateInsertKeepsFirst: try await duplicateInsertKeepsFirst(store)
        case .updateReturnsBeforeAndAfter: try await updateReturnsBeforeAndAfter(store)
        case .concurrentUpdatesAreAtomic: try await concurrentUpdatesAreAtomic(store)
        case .throwingUpdateStoresNothing: try await throwingUpdateStoresNothing(store)
        case .updateOfUnknownTenantThrows: try await updateOfUnknownTenantThrows(store)
        case .listFiltersByStatusAndTier: try await listFiltersByStatusAndTier(store)
        case .listPagesWithoutGapsOrRepeats: try await listPagesWithoutGapsOrRepeats(store)
        case .listOrdersByIDBytes: try await listOrdersByIDBytes(store)
        }
    }

    static func insertThenReadBack(_ store: any TenantStore) async throws {
        let minimal = ConformanceFixtures.minimalTenant()
        let full = ConformanceFixtures.fullTenant()

        #expect(try await store.tenant(minimal.id) == nil)
        try await store.insert(minimal)
        try await store.insert(full)

        let storedMinimal = try #require(try await store.tenant(minimal.id))
        #expect(storedMinimal == minimal)
        #expect(storedMinimal.adminEmail == nil)
        #expect(storedMinimal.statusBeforeSuspension == nil)
        #expect(storedMinimal.suspensionReason == nil)
        #expect(storedMinimal.deletedAt == nil)
        #expect(storedMinimal.config == TenantConfig())
        #expect(storedMinimal.metadata == [:])
        #expect(storedMinimal.timeZone == "UTC")
        #expect(storedMinimal.placement == .pool)

        let storedFull = try #require(try await store.tenant(full.id))
        #expect(storedFull == full)
        #expect(storedFull.config == full.config)
        #expect(storedFull.metadata == full.metadata)
        #expect(storedFull.timeZone == "America/Argentina/Buenos_Aires")
        #expect(storedFull.placement == .database(name: "full-tenant.sqlite"))
        #expect(storedFull.createdAt.millisecondsSince1970 == 1_700_000_000_123)
        #expect(storedFull.updatedAt.millisecondsSince1970 == 1_700_000_500_456)
        #expect(storedFull.deletedAt?.millisecondsSince1970 == 1_700_000_900_789)

        #expect(try await store.tenant("never-stored") == nil)
    }

    static func duplicateInsertKeepsFirst(_ store: any TenantStore) async throws {
        let first = ConformanceFixtures.minimalTenant(id: "acme-corp")
        var second = ConformanceFixtures.fullTenant(id: "acme-corp")
        second.name = "Acme Impostor"

        try await store.insert(first)
        await #expect(throws: TenantAlreadyExistsError(tenantID: "acme-corp")) {
            try await store.insert(second)
        }

        #expect(try await store.tenant("acme-corp") == first)
        let page = try await store.list(TenantQuery())
        #expect(page.tenants == [first])
    }

    static func updateReturnsBeforeAndAfter(_ store: any TenantStore) async throws {
        let minimal = ConformanceFixtures.minimalTenant(id: "acme-corp")
        let full = ConformanceFixtures.fullTenant(id: "acme-corp")
        try await store.insert(minimal)

        let (before, after) = try await store.update("acme-corp") { _ in full }
        #expect(before == minimal)
        #expect(after == full)
        #expect(try await store.tenant("acme-corp") == full)

        let (restoredBefore, restoredAfter) = try await store.update("acme-corp") { _ in minimal }
        #expect(restoredBefore == full)
        #expect(restoredAfter == minimal)
        #expect(try await store.tenant("acme-corp") == minimal)
    }

    static func concurrentUpdatesAreAtomic(_ store: any TenantStore) async throws {
        let taskCount = 50
        try await store.insert(ConformanceFixtures.minimalTenant(id: "acme-corp"))

        let countsSeenBefore = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<taskCount {
                group.addTask {
                    let (before, _) = try await store.update("acme-corp") { tenant in
                        var changed = tenant
                        let count = Int(tenant.metadata["counter"] ?? "0") ?? -1_000_000
                        changed.metadata["counter"] = String(count + 1)
                        return changed
                    }
                    return Int(before.metadata["counter"] ?? "0") ?? -1_000_000
                }
            }
            var seen: [Int] = []
            for try await count in group {
                seen.append(count)
            }
            return seen
        }

        let stored = try #require(try await store.tenant("acme-corp"))
        #expect(stored.metadata["counter"] == String(taskCount))
        // Each update saw a distinct count: none read a value another one overwrote.
        #expect(countsSeenBefore.sorted() == Array(0..<taskCount))
    }

    static func throwingUpdateStoresNothing(_ store: any TenantStore) async throws {
        let original = ConformanceFixtures.fullTenant(id: "acme-corp")
        try await store.insert(original)

        await #expect(throws: ConformanceProbeError()) {
            try await store.update("acme-corp") { _ in throw ConformanceProbeError() }
        }
        #expect(try await store.tenant("acme-corp") == original)

        // The failed update released whatever it held: the next one goes through.
        let (_, renamed) = try await store.update("acme-corp") { tenant in
            var changed = tenant
            changed.name = "Acme After The Error"
            return changed
        }
        #expect(renamed.name == "Acme After The Error")
        #expect(try await store.tenant("acme-corp") == renamed)
    }

    static func updateOfUnknownTenantThrows(_ store: any TenantStore) async throws {
        try await store.insert(ConformanceFixtures.minimalTenant(id: "acme-corp"))

        await #expect(throws: TenantNotFoundError(tenantID: "globex")) {
            try await store.update("globex") { tenant in tenant }
        }

        #expect(try await store.tenant("globex") == nil)
        let page = try await store.list(TenantQuery())
        #expect(page.tenants.map(\.id) == ["acme-corp"])
    }

    static func listFiltersByStatusAndTier(_ store: any TenantStore) async throws {
        let empty = try await store.list(TenantQuery())
        #expect(empty.tenants == [])
        #expect(empty.nextCursor == nil)

        let rows: [(TenantID, TenantStatus, TenantTier)] = [
            ("tenant-a", .active, .free),
            ("tenant-b", .active, .business),
            ("tenant-c", .suspended, .business),
            ("tenant-d", .trial, .starter),
            ("tenant-e", .active, .business),
            ("tenant-f", .cancelled, .free),
            ("tenant-g", .suspended, .enterprise),
            ("tenant-h", .deleted, .business),
        ]
        // Inserted out of id order, so a store that returns insertion order fails.
        for (id, status, tier) in rows.reversed() {
            var tenant = ConformanceFixtures.minimalTenant(id: id)
            tenant.status = status
            tenant.tier = tier
            try await store.insert(tenant)
        }

        let active = try await store.list(TenantQuery(status: .active))
        #expect(active.tenants.map(\.id) == ["tenant-a", "tenant-b", "tenant-e"])
        #expect(active.tenants.allSatisfy { $0.status == .active })
        #expect(active.nextCursor == nil)

        let business = try await store.list(TenantQuery(tier: .business))
        #expect(business.tenants.map(\.id) == ["tenant-b", "tenant-c", "tenant-e", "tenant-h"])
        #expect(business.nextCursor == nil)

        let activeBusiness = try await store.list(TenantQuery(status: .active, tier: .business))
        #expect(activeBusiness.tenants.map(\.id) == ["tenant-b", "tenant-e"])

        let suspendedAfterC = try await store.list(TenantQuery(status: .suspended, after: "tenant-c"))
        #expect(suspendedAfterC.tenants.map(\.id) == ["tenant-g"])

        let noMatch = try await store.list(TenantQuery(status: .provisioning))
        #expect(noMatch.tenants == [])
        #expect(noMatch.nextCursor == nil)

        let firstBusiness = try await store.list(TenantQuery(tier: .business, limit: 3))
        #expect(firstBusiness.tenants.map(\.id) == ["tenant-b", "tenant-c", "tenant-e"])
        #expect(firstBusiness.nextCursor == "tenant-e")
        let lastBusiness = try await store.list(TenantQuery(tier: .business, after: "tenant-e", limit: 3))
        #expect(lastBusiness.tenants.map(\.id) == ["tenant-h"])
        #expect(lastBusiness.nextCursor == nil)
    }

    static func listPagesWithoutGapsOrRepeats(_ store: any TenantStore) async throws {
        let ids = try (1...25).map { try TenantID(validating: String(format: "tenant-%02d", $0)) }
        // A fixed shuffle: 7 is coprime with 25, so every index appears once.
        for position in 0..<ids.count {
            try await store.insert(ConformanceFixtures.minimalTenant(id: ids[(position * 7) % ids.count]))
        }

        let first = try await store.list(TenantQuery(limit: 10))
        #expect(first.tenants.map(\.id) == Array(ids[0..<10]))
        #expect(first.nextCursor == "tenant-10")

        let second = try await store.list(TenantQuery(after: first.nextCursor, limit: 10))
        #expect(second.tenants.map(\.id) == Array(ids[10..<20]))
        #expect(second.nextCursor == "tenant-20")

        let third = try await store.list(TenantQuery(after: second.nextCursor, limit: 10))
        #expect(third.tenants.map(\.id) == Array(ids[20..<25]))
        #expect(third.nextCursor == nil)

        // A last page that is exactly full also ends the listing.
        let lastFive = try await store.list(TenantQuery(after: "tenant-20", limit: 5))
        #expect(lastFive.tenants.map(\.id) == Array(ids[20..<25]))
        #expect(lastFive.nextCursor == nil)

        // A cursor that names no stored tenant still starts after it.
        let afterMissing = try await store.list(TenantQuery(after: "tenant-105", limit: 3))
        #expect(afterMissing.tenants.map(\.id) == ["tenant-11", "tenant-12", "tenant-13"])
        #expect(afterMissing.nextCursor == "tenant-13")

        let pastTheEnd = try await store.list(TenantQuery(after: "tenant-25", limit: 10))
        #expect(pastTheEnd.tenants == [])
        #expect(pastTheEnd.nextCursor == nil)
    }

    static func listOrdersByIDBytes(_ store: any TenantStore) async throws {
        // '-' (0x2D) sorts before '0' (0x30), which sorts before 'a' (0x61). A store that
        // collates by locale or ignores punctuation orders these differently.
        for id: TenantID in ["abcd", "abc0", "ab-cd", "abc-d", "b00"] {
            try await store.insert(ConformanceFixtures.minimalTenant(id: id))
        }

        let page = try await store.list(TenantQuery())
        #expect(page.tenants.map(\.id) == ["ab-cd", "abc-d", "abc0", "abcd", "b00"])

        let afterHyphen = try await store.list(TenantQuery(after: "abc-d", limit: 2))
        #expect(afterHyphen.tenants.map(\.id) == ["abc0", "abcd"])
        #expect(afterHyphen.nextCursor == "abcd")
    }
}
