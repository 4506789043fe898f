import Dispatch
import Foundation
import Testing
import Tenancy
import TenancyTesting

let acme = sampleTenant("acme-corp")
let globex = sampleTenant("globex")

@Suite("Tenant context")
struct TenantContextTests {
    @Test("No tenant outside every scope")
    func noScope() throws {
        #expect(currentTenant() == nil)
        #expect(TenantContext.current == nil)
        let error = try #require(throws: NoTenantInScopeError.self) {
            try requireCurrentTenant(operation: "load debates")
        }
        #expect(error.operation == "load debates")
    }

    @Test("Scope binds and passes the tenant")
    func scopeBinds() async throws {
        let handed = try await TenantContext.withTenant(acme) { tenant throws in
            #expect(currentTenant() == acme)
            #expect(try requireCurrentTenant() == acme)
            #expect(TenantContext.current?.entry == .tenant)
            return tenant
        }
        #expect(handed == acme)
    }

    @Test("async let sees the tenant")
    func asyncLet() async throws {
        try await TenantContext.withTenant(acme) { _ in
            async let seen = currentTenant()?.id
            #expect(await seen == "acme-corp")
        }
    }

    @Test("Task group children see the tenant")
    func taskGroup() async throws {
        let seen = try await TenantContext.withTenant(acme) { _ in
            await withTaskGroup(of: TenantID?.self) { group in
                for _ in 0..<4 {
                    group.addTask { currentTenant()?.id }
                }
                var ids: [TenantID?] = []
                for await id in group {
                    ids.append(id)
                }
                return ids
            }
        }
        #expect(seen == ["acme-corp", "acme-corp", "acme-corp", "acme-corp"])
    }

    @Test("Unstructured Task sees the tenant")
    func unstructuredTask() async throws {
        let seen = try await TenantContext.withTenant(acme) { _ in
            await Task { currentTenant()?.id }.value
        }
        #expect(seen == "acme-corp")
    }

    @Test("Detached task sees no tenant")
    func detachedTask() async throws {
        let seen = try await TenantContext.withTenant(acme) { _ in
            await Task.detached { currentTenant()?.id }.value
        }
        #expect(seen == nil)
    }

    @Test("Dispatch closure sees no tenant")
    func dispatchWithoutCapture() async throws {
        let seen: TenantID? = try await TenantContext.withTenant(acme) { _ in
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(returning: currentTenant()?.id)
                }
            }
        }
        #expect(seen == nil)
    }

    @Test("Scope ends and no tenant is left")
    func scopeEndsNormally() async throws {
        try await TenantContext.withTenant(acme) { _ in }
        #expect(currentTenant() == nil)
    }

    @Test("Scope ended by an error leaves no tenant")
    func scopeEndsByError() async throws {
        await #expect(throws: ProbeError()) {
            try await TenantContext.withTenant(acme) { _ in throw ProbeError() }
        }
        #expect(currentTenant() == nil)
    }

    @Test("Failed inner scope restores outer tenant")
    func innerScopeEndsByError() async throws {
        try await TenantContext.withTenant(acme) { _ in
            await #expect(throws: ProbeError()) {
                try await TenantContext.withTenant(acme) { _ in throw ProbeError() }
            }
            #expect(currentTenant()?.id == "acme-corp")
        }
    }

    @Test("Task sees no tenant after its scope ends")
    func taskAfterScope() async throws {
        let seen = try await Task { () -> [TenantID?] in
            let inside = try await TenantContext.withTenant(acme) { _ in currentTenant()?.id }
            let afterwards = await Task { currentTenant()?.id }.value
            return [inside, currentTenant()?.id, afterwards]
        }.value
        #expect(seen == ["acme-corp", nil, nil])
    }

    @Test("Same tenant nests and keeps the principal")
    func sameTenantNesting() async throws {
        let principal = try Principal(id: "user-1", kind: .user, tenantID: "acme-corp")
        let inner = try await TenantContext.withTenant(acme, principal: principal) { _ in
            try await TenantContext.withTenant(acme) { _ in
                (currentTenant()?.id, currentPrincipal())
            }
        }
        #expect(inner.0 == "acme-corp")
        #expect(inner.1 == principal)
    }

    @Test("Different tenant inside a scope is rejected")
    func crossTenantRejected() async throws {
        let bodyRan = try await TenantContext.withTenant(acme) { _ in
            await #expect(throws: CrossTenantAccessError(currentTenantID: "acme-corp", requestedTenantID: "globex")) {
                try await TenantContext.withTenant(globex) { _ in }
            }
            #expect(currentTenant()?.id == "acme-corp")
            return true
        }
        #expect(bodyRan)
    }

    @Test("Manager rejects another tenant inside a scope")
    func managerCrossTenantRejected() async throws {
        let (manager, _) = makeManager()
        try await createTenant("acme-corp", in: manager)
        try await createTenant("globex", in: manager)

        try await manager.withTenant("acme-corp") { _ in
            await #expect(throws: CrossTenantAccessError(currentTenantID: "acme-corp", requestedTenantID: "globex")) {
                try await manager.withTenant("globex") { _ in }
            }
            return
        }
    }

    @Test("Cross-tenant access works and is audited")
    func crossTenantAccess() async throws {
        let (manager, _) = makeManager()
        try await createTenant("acme-corp", in: manager)
        try await createTenant("globex", in: manager)

        try await manager.withTenant("acme-corp") { _ in
            let inside = try await manager.withCrossTenantAccess(to: "globex", reason: "support ticket 42") { tenant in
                (tenant.id, currentTenant()?.id, TenantContext.current?.entry)
            }
            #expect(inside.0 == "globex")
            #expect(inside.1 == "globex")
            #expect(inside.2 == .crossTenant(reason: "support ticket 42"))
            #expect(currentTenant()?.id == "acme-corp")
        }

        let record = try #require(try await auditTrail(of: "globex", in: manager).last)
        #expect(record.action == .crossTenantAccess)
        #expect(record.action.rawValue == "context.cross-tenant-access")
        #expect(record.outcome == .success)
        #expect(record.tenantID == "globex")
        #expect(record.detail == "from=acme-corp; reason: support ticket 42")
    }

    @Test("Failed cross-tenant scope restores outer tenant")
    func crossTenantEndsByError() async throws {
        let (manager, _) = makeManager()
        try await createTenant("acme-corp", in: manager)
        try await createTenant("globex", in: manager)

        try await manager.withTenant("acme-corp") { _ in
            await #expect(throws: ProbeError()) {
                try await manager.withCrossTenantAccess(to: "globex", reason: "support") { _ in throw ProbeError() }
            }
            #expect(currentTenant()?.id == "acme-corp")
        }
    }

    @Test("Platform scope inside a tenant scope is denied")
    func platformScopeDenied() async throws {
        let (manager, _) = makeManager()
        try await createTenant("acme-corp", in: manager)

        let ran = try await manager.withTenant("acme-corp") { _ in
            await #expect(throws: PlatformScopeDeniedError(currentTenantID: "acme-corp")) {
                try await manager.withPlatformScope(reason: "migration") {}
            }
            return true
        }
        #expect(ran)
        let record = try #require(try await auditTrail(of: "acme-corp", in: manager).last)
        #expect(record.action == .platformScope)
        #expect(record.outcome == .denied)
    }

    @Test("Platform scope outside a tenant binds no tenant")
    func platformScope() async throws {
        let (manager, _) = makeManager()
        let inside = try await manager.withPlatformScope(reason: "nightly report") {
            (currentTenant(), TenantContext.isPlatformScope)
        }
        #expect(inside.0 == nil)
        #expect(inside.1)
        #expect(!TenantContext.isPlatformScope)

        let records = try await manager.auditRecords()
        #expect(records.map(\.action) == [.platformScope])
        #expect(records.first?.detail == "reason: nightly report")
    }

    @Test("Captured context rebinds in a detached task")
    func capturedInDetachedTask() async throws {
        let seen = try await TenantContext.withTenant(acme) { _ in
            let captured = TenantContext.capture()
            return try await Task.detached {
                try await captured.withValue { () async -> TenantID? in currentTenant()?.id }
            }.value
        }
        #expect(seen == "acme-corp")
    }

    @Test("Captured context rebinds in a Dispatch closure")
    func capturedInDispatch() async throws {
        let seen: TenantID? = try await TenantContext.withTenant(acme) { _ in
            let captured = TenantContext.capture()
            return try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try captured.withValue { currentTenant()?.id } })
                }
            }
        }
        #expect(seen == "acme-corp")
    }

    @Test("Captured context rejects another bound tenant")
    func capturedOverAnotherTenant() async throws {
        let captured = try await TenantContext.withTenant(acme) { _ in TenantContext.capture() }
        try await TenantContext.withTenant(globex) { _ in
            #expect(throws: CrossTenantAccessError(currentTenantID: "globex", requestedTenantID: "acme-corp")) {
                try captured.withValue { currentTenant()?.id }
            }
            return
        }
    }

    @Test("Captured platform scope is rejected inside a tenant scope")
    func capturedPlatformInsideTenant() async throws {
        let (manager, _) = makeManager()
        let captured = try await manager.withPlatformScope(reason: "start-up") { TenantContext.capture() }

        let seen = try await TenantContext.withTenant(acme) { _ in
            #expect(throws: PlatformScopeDeniedError(currentTenantID: "acme-corp")) {
                try captured.withValue { TenantContext.isPlatformScope }
            }
            await #expect(throws: PlatformScopeDeniedError(currentTenantID: "acme-corp")) {
                try await captured.withValue { () async -> Bool in TenantContext.isPlatformScope }
            }
            return (currentTenant()?.id, TenantContext.isPlatformScope)
        }

        #expect(seen.0 == "acme-corp")
        #expect(!seen.1)
        #expect(try captured.withValue { TenantContext.isPlatformScope })
    }
}

@Suite("Entering a tenant by id")
struct ScopeEntryTests {
    @Test("Trial and active tenants enter", arguments: [TenantStatus.trial, .active])
    func admitted(status: TenantStatus) async throws {
        let (manager, _) = makeManager()
        let created = try await makeTenant("acme-corp", in: status, manager: manager)

        let seen = try await manager.withTenant("acme-corp") { tenant in
            (tenant, currentTenant())
        }
        #expect(seen.0 == created)
        #expect(seen.1 == created)
    }

    @Test("Suspended tenant is rejected with its reason")
    func suspended() async throws {
        let (manager, _) = makeManager()
        try await createTenant("acme-corp", in: manager)
        try await manager.updateStatus("acme-corp", to: .suspended, reason: "billing overdue")

        await #expect(throws: TenantSuspendedError(tenantID: "acme-corp", reason: "billing overdue")) {
            try await manager.withTenant("acme-corp") { _ in Issue.record("the body ran for a suspended tenant") }
        }
    }

    @Test(
        "Unavailable tenant is rejected with its status",
        arguments: [TenantStatus.pending, .provisioning, .cancelled, .deleting, .deleted])
    func unavailable(status: TenantStatus) async throws {
        let (manager, _) = makeManager()
        _ = try await makeTenant("acme-corp", in: status, manager: manager)

        await #expect(throws: TenantUnavailableError(tenantID: "acme-corp", status: status)) {
            try await manager.withTenant("acme-corp") { _ in Issue.record("the body ran for a \(status) tenant") }
        }
    }

    @Test("Unknown tenant is not found")
    func unknown() async throws {
        let (manager, _) = makeManager()
        await #expect(throws: TenantNotFoundError(tenantID: "globex")) {
            try await manager.withTenant("globex") { _ in Issue.record("the body ran for an unknown tenant") }
        }
    }

    @Test("Loaded tenant snapshot is checked too")
    func snapshotChecked() async throws {
        var suspended = sampleTenant("acme-corp", status: .suspended)
        suspended.suspensionReason = "abuse"
        await #expect(throws: TenantSuspendedError(tenantID: "acme-corp", reason: "abuse")) {
            try await TenantContext.withTenant(suspended) { _ in }
        }
    }
}
