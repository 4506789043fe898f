import Foundation
import Synchronization
import Testing
import Tenancy
import TenancyTesting

/// A manager with three recording purgers, `rows`, `files` and `cache`, in that order.
struct PurgeFixture {
    let manager: TenantManager
    let clock: FixedClock
    let log = PurgeLog()
    let filesFailure = FailureSwitch(isOn: false)

    init() {
        let purgers: [any TenantPurger] = [
            RecordingPurger(name: "rows", removed: 5, log: log),
            RecordingPurger(name: "files", removed: 7, log: log, failure: filesFailure),
            RecordingPurger(name: "cache", removed: 2, log: log),
        ]
        (manager, clock) = makeManager(purgers: purgers)
    }

    /// Returns the receipt a purge of `id` gives when every purger finishes at ``startDate``.
    func expectedReceipt(_ id: TenantID) -> PurgeReceipt {
        PurgeReceipt(
            tenantID: id, startedAt: startDate, completedAt: startDate, requestedBy: nil,
            steps: [
                PurgeStep(purger: "rows", removed: 5, finishedAt: startDate),
                PurgeStep(purger: "files", removed: 7, finishedAt: startDate),
                PurgeStep(purger: "cache", removed: 2, finishedAt: startDate),
                PurgeStep(purger: "registry", removed: 1, finishedAt: startDate),
            ])
    }
}

@Suite("Deletion and purge")
struct TenantDeletionTests {
    @Test("Delete without purge cancels")
    func deleteWithoutPurge() async throws {
        let fixture = PurgeFixture()
        let created = try await createTenant("acme-corp", in: fixture.manager)
        fixture.clock.advance(by: .seconds(60))

        let receipt = try await fixture.manager.deleteTenant("acme-corp", purgeData: false)
        #expect(receipt == nil)

        let cancelled = try await fixture.manager.tenant("acme-corp")
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.deletedAt == fixture.clock.now())
        #expect(cancelled.name == created.name)
        #expect(cancelled.adminEmail == created.adminEmail)
        #expect(fixture.log.all == [])
        #expect(try await auditTrail(of: "acme-corp", in: fixture.manager).last?.action == .tenantCancelled)
    }

    @Test("Purge runs purgers in order")
    func deleteWithPurge() async throws {
        let fixture = PurgeFixture()
        try await fixture.manager.createTenant(
            name: "Acme Corporation", tier: .business, adminEmail: "admin@acme.com", id: "acme-corp",
            metadata: ["crm": "4711"])

        let receipt = try await fixture.manager.deleteTenant("acme-corp", purgeData: true)

        #expect(fixture.log.all == ["rows:acme-corp", "files:acme-corp", "cache:acme-corp"])
        #expect(receipt == fixture.expectedReceipt("acme-corp"))
        #expect(receipt?.steps.map(\.purger) == ["rows", "files", "cache", "registry"])
        #expect(receipt?.steps.map(\.removed) == [5, 7, 2, 1])
        #expect(receipt?.totalRemoved == 15)

        let tombstone = try await fixture.manager.tenant("acme-corp")
        #expect(tombstone.status == .deleted)
        #expect(tombstone.name == "")
        #expect(tombstone.adminEmail == nil)
        #expect(tombstone.metadata == [:])
        #expect(tombstone.deletedAt == startDate)
        #expect(tombstone.tier == .business)
        #expect(try await fixture.manager.purgeJobs.job(for: "acme-corp")?.receipt == receipt)
    }

    @Test("Deleting a deleted tenant returns the same receipt")
    func deleteAgain() async throws {
        let fixture = PurgeFixture()
        try await createTenant("acme-corp", in: fixture.manager)
        let first = try await fixture.manager.deleteTenant("acme-corp", purgeData: true)
        fixture.clock.advance(by: oneDay)

        let second = try await fixture.manager.deleteTenant("acme-corp", purgeData: true)
        #expect(second == first)
        #expect(fixture.log.all == ["rows:acme-corp", "files:acme-corp", "cache:acme-corp"])
    }

    @Test("Cancel of a deleted tenant is an invalid transition")
    func cancelDeleted() async throws {
        let fixture = PurgeFixture()
        try await createTenant("acme-corp", in: fixture.manager)
        try await fixture.manager.deleteTenant("acme-corp", purgeData: true)
        let tombstone = try await fixture.manager.tenant("acme-corp")

        await #expect(throws: InvalidTransitionError(tenantID: "acme-corp", from: .deleted, to: .cancelled)) {
            try await fixture.manager.deleteTenant("acme-corp", purgeData: false)
        }
        #expect(try await fixture.manager.tenant("acme-corp") == tombstone)
    }

    @Test("Purge resumes at the failed purger")
    func resumeAfterFailure() async throws {
        let fixture = PurgeFixture()
        try await createTenant("acme-corp", in: fixture.manager)
        fixture.filesFailure.set(true)

        let error = try await #require(throws: PurgeFailedError.self) {
            try await fixture.manager.deleteTenant("acme-corp", purgeData: true)
        }
        #expect(error.tenantID == "acme-corp")
        #expect(error.purger == "files")
        #expect(error.underlying is ProbeError)
        #expect(fixture.log.all == ["rows:acme-corp", "files:acme-corp"])

        let interrupted = try await fixture.manager.tenant("acme-corp")
        #expect(interrupted.status == .deleting)
        #expect(interrupted.name == "Tenant acme-corp")
        await #expect(throws: TenantUnavailableError(tenantID: "acme-corp", status: .deleting)) {
            try await fixture.manager.withTenant("acme-corp") { _ in }
        }
        let job = try #require(try await fixture.manager.purgeJobs.job(for: "acme-corp"))
        #expect(job.completedSteps == [PurgeStep(purger: "rows", removed: 5, finishedAt: startDate)])
        #expect(job.receipt == nil)

        fixture.filesFailure.set(false)
        let receipt = try await fixture.manager.deleteTenant("acme-corp", purgeData: true)

        #expect(fixture.log.all == ["rows:acme-corp", "files:acme-corp", "files:acme-corp", "cache:acme-corp"])
        #expect(receipt == fixture.expectedReceipt("acme-corp"))
        #expect(try await fixture.manager.tenant("acme-corp").status == .deleted)
    }

    @Test("Interrupted deletions resume at start-up")
    func resumeInterruptedDeletions() async throws {
        let fixture = PurgeFixture()
        try await createTenant("acme-corp", in: fixture.manager)
        fixture.filesFailure.set(true)
        await #expect(throws: PurgeFailedError.self) {
            try await fixture.manager.deleteTenant("acme-corp", purgeData: true)
        }

        fixture.filesFailure.set(false)
        let receipts = try await fixture.manager.resumeInterruptedDeletions()
        #expect(receipts == [fixture.expectedReceipt("acme-corp")])
        #expect(try await fixture.manager.tenant("acme-corp").status == .deleted)
        #expect(try await fixture.manager.resumeInterruptedDeletions() == [])
    }

    @Test("purgeExpired purges only expired tenants")
    func purgeExpired() async throws {
        let fixture = PurgeFixture()
        for id: TenantID in ["acme-corp", "globex", "initech", "umbrella"] {
            try await createTenant(id, in: fixture.manager)
        }
        try await fixture.manager.deleteTenant("acme-corp", purgeData: false)
        try await fixture.manager.deleteTenant("umbrella", purgeData: false)
        fixture.clock.advance(by: oneDay * 20)
        try await fixture.manager.deleteTenant("globex", purgeData: false)

        // 31 days after the first cancellations, 11 after globex's.
        fixture.clock.advance(by: oneDay * 11)
        let receipts = try await fixture.manager.purgeExpired()

        #expect(receipts.map(\.tenantID) == ["acme-corp", "umbrella"])
        #expect(fixture.log.all == [
            "rows:acme-corp", "files:acme-corp", "cache:acme-corp",
            "rows:umbrella", "files:umbrella", "cache:umbrella",
        ])
        #expect(try await fixture.manager.tenant("acme-corp").status == .deleted)
        #expect(try await fixture.manager.tenant("umbrella").status == .deleted)
        #expect(try await fixture.manager.tenant("globex").status == .cancelled)
        #expect(try await fixture.manager.tenant("initech").status == .active)

        fixture.clock.advance(by: oneDay * 20)
        let later = try await fixture.manager.purgeExpired()
        #expect(later.map(\.tenantID) == ["globex"])
        #expect(try await fixture.manager.tenant("globex").status == .deleted)
        #expect(try await fixture.manager.tenant("initech").status == .active)
        #expect(try await fixture.manager.purgeExpired() == [])
    }

    @Test("Events arrive in order")
    func events() async throws {
        let fixture = PurgeFixture()
        let events = fixture.manager.events()
        let created = try await createTenant("acme-corp", in: fixture.manager)
        try await fixture.manager.updateStatus("acme-corp", to: .suspended, reason: "billing")
        try await fixture.manager.updateStatus("acme-corp", to: .active)
        let receipt = try #require(try await fixture.manager.deleteTenant("acme-corp", purgeData: true))

        var received: [TenantEvent] = []
        for await event in events {
            received.append(event)
            if received.count == 7 { break }
        }
        #expect(received == [
            .created(created),
            .statusChanged("acme-corp", from: .active, to: .suspended),
            .statusChanged("acme-corp", from: .suspended, to: .active),
            .statusChanged("acme-corp", from: .active, to: .deleting),
            .purgeStarted("acme-corp"),
            .statusChanged("acme-corp", from: .deleting, to: .deleted),
            .deleted("acme-corp", receipt: receipt),
        ])
    }
}

/// A purger that waits until `expectedCallers` calls are inside it (at most 5 seconds, so a
/// broken test ends) and returns the call's arrival number, so each run's receipt differs.
final class RendezvousPurger: TenantPurger {
    let name = "rendezvous"
    let expectedCallers: Int
    private let arrivals = Mutex(0)

    init(expectedCallers: Int) {
        self.expectedCallers = expectedCallers
    }

    func purge(_ tenantID: TenantID) async throws -> Int {
        let arrival = arrivals.withLock { count in
            count += 1
            return count
        }
        for _ in 0..<500 where arrivals.withLock({ $0 }) < expectedCallers {
            try await Task.sleep(for: .milliseconds(10))
        }
        return arrival
    }
}

/// An in-memory tenant store that runs `beforeFirstUpdate` once, just before the first update
/// it applies, to let another caller act between a read and a write.
final class InterleavingTenantStore: TenantStore {
    let base = InMemoryTenantStore()
    private let hook = Mutex<(@Sendable () async throws -> Void)?>(nil)

    func setBeforeFirstUpdate(_ action: @escaping @Sendable () async throws -> Void) {
        hook.withLock { $0 = action }
    }

    func insert(_ tenant: Tenant) async throws {
        try await base.insert(tenant)
    }

    func tenant(_ id: TenantID) async throws -> Tenant? {
        try await base.tenant(id)
    }

    func update(_ id: TenantID, _ change: @Sendable (Tenant) throws -> Tenant) async throws -> (before: Tenant, after: Tenant) {
        if let action = hook.withLock({ hook in defer { hook = nil }; return hook }) {
            try await action()
        }
        return try await base.update(id, change)
    }

    func list(_ query: TenantQuery) async throws -> TenantPage {
        try await base.list(query)
    }
}

@Suite("Concurrent deletion with purge")
struct ConcurrentDeletionTests {
    @Test("Concurrent purges return one receipt")
    func concurrentPurgesShareReceipt() async throws {
        let manager = TenantManager(clock: FixedClock(startDate), purgers: [RendezvousPurger(expectedCallers: 2)])
        try await createTenant("acme-corp", in: manager)

        async let first = manager.deleteTenant("acme-corp", purgeData: true)
        async let second = manager.deleteTenant("acme-corp", purgeData: true)
        let receipts = try await [first, second]

        let stored = try await manager.purgeJobs.job(for: "acme-corp")?.receipt
        let actions = try await auditTrail(of: "acme-corp", in: manager).map(\.action)
        #expect(receipts[0] == receipts[1])
        #expect(receipts[0] == stored)
        #expect(try await manager.deleteTenant("acme-corp", purgeData: true) == stored)
        #expect(actions.filter { $0 == .purgeStarted }.count == 1)
        #expect(actions.filter { $0 == .tenantDeleted }.count == 1)
        #expect(try await manager.tenant("acme-corp").status == .deleted)
    }

    @Test("Purge of a tenant deleted meanwhile returns its receipt")
    func purgeAfterConcurrentDeletion() async throws {
        let store = InterleavingTenantStore()
        let manager = TenantManager(store: store, clock: FixedClock(startDate))
        try await createTenant("acme-corp", in: manager)
        let otherReceipt = Mutex<PurgeReceipt?>(nil)
        store.setBeforeFirstUpdate {
            let receipt = try await manager.deleteTenant("acme-corp", purgeData: true)
            otherReceipt.withLock { $0 = receipt }
        }

        let receipt = try await manager.deleteTenant("acme-corp", purgeData: true)

        let records = try await auditTrail(of: "acme-corp", in: manager)
        #expect(receipt != nil)
        #expect(receipt == otherReceipt.withLock { $0 })
        #expect(records.filter { $0.outcome != .success }.map(\.action) == [])
        #expect(records.filter { $0.action == .tenantDeleted }.count == 1)
    }
}

@Suite("Purge of expired tenants")
struct PurgeExpiredRaceTests {
    @Test("Tenant restored meanwhile is not purged")
    func restoredDuringPurgeExpired() async throws {
        // Two managers share the stores, as two processes share a file, and keep cancelled
        // tenants for different periods: the 60-day one may still restore a tenant that the
        // 30-day one has listed as expired.
        let store = InterleavingTenantStore()
        let audit = InMemoryAuditStore()
        let jobs = InMemoryPurgeJobStore()
        let clock = FixedClock(startDate)
        let purging = TenantManager(store: store, audit: audit, purgeJobs: jobs, clock: clock, retentionPeriod: oneDay * 30)
        let restoring = TenantManager(store: store, audit: audit, purgeJobs: jobs, clock: clock, retentionPeriod: oneDay * 60)
        try await createTenant("acme-corp", in: restoring)
        try await restoring.deleteTenant("acme-corp", purgeData: false)
        clock.advance(by: oneDay * 40)
        store.setBeforeFirstUpdate {
            try await restoring.updateStatus("acme-corp", to: .active)
        }

        let receipts = try await purging.purgeExpired()

        let tenant = try await restoring.tenant("acme-corp")
        #expect(receipts == [])
        #expect(tenant.status == .active)
        #expect(tenant.name == "Tenant acme-corp")
        #expect(try await jobs.job(for: "acme-corp") == nil)
    }
}
