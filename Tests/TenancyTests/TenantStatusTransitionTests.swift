import Foundation
import Testing
import Tenancy
import TenancyTesting

/// What `updateStatus` must do for one pair of statuses.
enum TransitionOutcome: Equatable {
    /// The tenant moves and ends in this status.
    case moves(to: TenantStatus)
    /// The tenant is already in the target status: nothing is written.
    case unchanged
    /// `InvalidTransitionError`, and the stored tenant stays as it was.
    case rejected
}

/// The status each allowed target leads to, by source status. A suspended tenant in this table
/// was active before its suspension, so `trial` is not a way back for it.
let statusMoves: [TenantStatus: [TenantStatus: TenantStatus]] = [
    .pending: [.provisioning: .provisioning, .trial: .trial, .active: .active, .cancelled: .cancelled],
    .provisioning: [.trial: .trial, .active: .active, .pending: .pending],
    .trial: [.active: .active, .suspended: .suspended, .cancelled: .cancelled],
    .active: [.suspended: .suspended, .cancelled: .cancelled],
    .suspended: [.active: .active, .cancelled: .cancelled],
    .cancelled: [.active: .active],
    .deleting: [:],
    .deleted: [:],
]

func expectedOutcome(from source: TenantStatus, to target: TenantStatus) -> TransitionOutcome {
    if target == .deleting || target == .deleted { return .rejected }
    if let resolved = statusMoves[source]?[target] { return .moves(to: resolved) }
    return source == target ? .unchanged : .rejected
}

/// Creates tenant `id` in `status` the way a service would get there: through allowed moves,
/// or for `deleting` (an interrupted purge) by a store insert.
func makeTenant(_ id: TenantID, in status: TenantStatus, manager: TenantManager) async throws -> Tenant {
    switch status {
    case .pending, .trial, .active:
        try await createTenant(id, in: manager, status: status)
    case .provisioning:
        try await createTenant(id, in: manager, status: .pending)
        try await manager.updateStatus(id, to: .provisioning)
    case .suspended:
        try await createTenant(id, in: manager)
        try await manager.updateStatus(id, to: .suspended, reason: "billing")
    case .cancelled:
        try await createTenant(id, in: manager)
        try await manager.deleteTenant(id, purgeData: false)
    case .deleting:
        try await manager.store.insert(
            Tenant(id: id, name: "Tenant \(id)", tier: .professional, status: .deleting, createdAt: startDate))
    case .deleted:
        try await createTenant(id, in: manager)
        try await manager.deleteTenant(id, purgeData: true)
    }
    return try await manager.tenant(id)
}

@Suite("Status transitions")
struct TenantStatusTransitionTests {
    @Test("Transition table has eight sources")
    func tableCoversEveryStatus() {
        #expect(Set(TenantStatus.allowedTransitions.keys) == Set(TenantStatus.allCases))
        #expect(TenantStatus.allCases.count == 8)
    }

    @Test("updateStatus follows the table", arguments: TenantStatus.allCases, TenantStatus.allCases)
    func updateStatus(from source: TenantStatus, to target: TenantStatus) async throws {
        let (manager, clock) = makeManager()
        let before = try await makeTenant("acme-corp", in: source, manager: manager)
        #expect(before.status == source)
        clock.advance(by: .seconds(3_600))
        let auditCountBefore = try await auditTrail(of: "acme-corp", in: manager).count

        switch expectedOutcome(from: source, to: target) {
        case .moves(let resolved):
            let after = try await manager.updateStatus("acme-corp", to: target)
            #expect(after.status == resolved)
            #expect(after.updatedAt == clock.now())
            #expect(try await manager.tenant("acme-corp") == after)
            let trail = try await auditTrail(of: "acme-corp", in: manager)
            #expect(trail.count == auditCountBefore + 1)
            #expect(trail.last?.outcome == .success)
            #expect(trail.last?.detail == "\(source) -> \(resolved)")

        case .unchanged:
            let after = try await manager.updateStatus("acme-corp", to: target)
            #expect(after == before)
            #expect(try await manager.tenant("acme-corp") == before)
            #expect(try await auditTrail(of: "acme-corp", in: manager).count == auditCountBefore)

        case .rejected:
            let error = try await #require(throws: InvalidTransitionError.self) {
                try await manager.updateStatus("acme-corp", to: target)
            }
            #expect(error.tenantID == "acme-corp")
            #expect(error.from == source)
            #expect(error.to == target)
            #expect(try await manager.tenant("acme-corp") == before)
        }
    }

    @Test("Suspension stores the reason and the status before it")
    func suspensionRecordsReason() async throws {
        let (manager, _) = makeManager()
        try await createTenant("acme-corp", in: manager, status: .trial)

        let suspended = try await manager.updateStatus("acme-corp", to: .suspended, reason: "billing overdue")
        #expect(suspended.status == .suspended)
        #expect(suspended.statusBeforeSuspension == .trial)
        #expect(suspended.suspensionReason == "billing overdue")
    }

    @Test("Activating a suspended trial tenant gives trial", arguments: [TenantStatus.active, .trial])
    func reactivateTrial(target: TenantStatus) async throws {
        let (manager, _) = makeManager()
        try await createTenant("acme-corp", in: manager, status: .trial)
        try await manager.updateStatus("acme-corp", to: .suspended, reason: "billing")

        let reactivated = try await manager.updateStatus("acme-corp", to: target)
        #expect(reactivated.status == .trial)
        #expect(reactivated.statusBeforeSuspension == nil)
        #expect(reactivated.suspensionReason == nil)
    }

    @Test("Cancelled tenant restores within retention only", arguments: [
        (Duration.seconds(29 * 86_400), true),
        (Duration.seconds(30 * 86_400), true),
        (Duration.seconds(30 * 86_400) + .milliseconds(1), false),
        (Duration.seconds(45 * 86_400), false),
    ])
    func restoreWithinRetention(elapsed: Duration, restores: Bool) async throws {
        let (manager, clock) = makeManager()
        try await createTenant("acme-corp", in: manager)
        try await manager.deleteTenant("acme-corp", purgeData: false)
        let cancelled = try await manager.tenant("acme-corp")
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.deletedAt == startDate)

        clock.advance(by: elapsed)
        if restores {
            let restored = try await manager.updateStatus("acme-corp", to: .active)
            #expect(restored.status == .active)
            #expect(restored.deletedAt == nil)
            #expect(restored.updatedAt == clock.now())
        } else {
            let error = try await #require(throws: InvalidTransitionError.self) {
                try await manager.updateStatus("acme-corp", to: .active)
            }
            #expect(error.from == .cancelled)
            #expect(error.to == .active)
            #expect(error.detail?.contains("retention period ended") == true)
            #expect(try await manager.tenant("acme-corp") == cancelled)
        }
    }

    @Test("Retention period is configurable on the manager")
    func customRetention() async throws {
        let clock = FixedClock(startDate)
        let manager = TenantManager(clock: clock, retentionPeriod: .seconds(3_600))
        try await createTenant("acme-corp", in: manager)
        try await manager.deleteTenant("acme-corp", purgeData: false)

        clock.advance(by: .seconds(3_601))
        await #expect(throws: InvalidTransitionError.self) {
            try await manager.updateStatus("acme-corp", to: .active)
        }
        #expect(try await manager.tenant("acme-corp").status == .cancelled)
    }

    @Test("Status change of an unknown tenant is not found")
    func unknownTenant() async throws {
        let (manager, _) = makeManager()
        await #expect(throws: TenantNotFoundError(tenantID: "globex")) {
            try await manager.updateStatus("globex", to: .suspended)
        }
    }
}
