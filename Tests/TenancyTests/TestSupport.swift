import Foundation
import Synchronization
import Tenancy
import TenancyTesting

/// 2026-01-01T00:00:00Z, the instant every test clock starts at.
let startDate = Date(millisecondsSince1970: 1_767_225_600_000)

let oneDay: Duration = .seconds(86_400)

/// Returns a manager over in-memory stores with a fixed clock at ``startDate``.
func makeManager(purgers: [any TenantPurger] = []) -> (manager: TenantManager, clock: FixedClock) {
    let clock = FixedClock(startDate)
    return (TenantManager(clock: clock, purgers: purgers), clock)
}

/// Returns an unsaved tenant value for context tests.
func sampleTenant(_ id: TenantID, status: TenantStatus = .active) -> Tenant {
    Tenant(id: id, name: "Tenant \(id)", tier: .professional, status: status, createdAt: startDate)
}

/// Creates a tenant with an explicit id.
@discardableResult
func createTenant(_ id: TenantID, in manager: TenantManager, status: TenantStatus = .active) async throws -> Tenant {
    try await manager.createTenant(
        name: "Tenant \(id)", tier: .professional, adminEmail: "admin@\(id).example", id: id, status: status)
}

/// Returns every audit record of a tenant, oldest first.
func auditTrail(of id: TenantID, in manager: TenantManager) async throws -> [AuditRecord] {
    try await manager.auditRecords(tenantID: id, limit: 10_000)
}

/// An error thrown on purpose by a test.
struct ProbeError: Error, Equatable {}

/// The calls purgers received, as `purger:tenant`, in order.
final class PurgeLog: Sendable {
    private let entries = Mutex<[String]>([])

    func append(_ entry: String) {
        entries.withLock { $0.append(entry) }
    }

    var all: [String] {
        entries.withLock { $0 }
    }
}

/// A switch a test flips to make a purger fail.
final class FailureSwitch: Sendable {
    private let isOn: Mutex<Bool>

    init(isOn: Bool) {
        self.isOn = Mutex(isOn)
    }

    func set(_ value: Bool) {
        isOn.withLock { $0 = value }
    }

    var value: Bool {
        isOn.withLock { $0 }
    }
}

/// A purger that records each call and returns a fixed count, or throws while its switch is on.
struct RecordingPurger: TenantPurger {
    let name: String
    let removed: Int
    let log: PurgeLog
    var failure: FailureSwitch?

    func purge(_ tenantID: TenantID) async throws -> Int {
        log.append("\(name):\(tenantID)")
        if failure?.value == true {
            throw ProbeError()
        }
        return removed
    }
}
