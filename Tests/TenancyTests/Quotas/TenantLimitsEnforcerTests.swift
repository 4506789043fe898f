import Tenancy
import Testing

@Suite("Tenant limits enforcer")
struct TenantLimitsEnforcerTests {
    let tenant = Tenant(id: "acme-corp", name: "Acme", tier: .free)
    let enforcer = TenantLimitsEnforcer()

    @Test("count admits the last unit and refuses at the limit")
    func countCheck() throws {
        try enforcer.checkCount(.debatesPerDay, current: 9, for: tenant)
        let error = #expect(throws: TenantLimitExceeded.self) { try enforcer.checkCount(.debatesPerDay, current: 10, for: tenant) }
        #expect(error?.limitType == .debatesPerDay)
        #expect(error?.current == 10)
        #expect(error?.limit == 10)
        #expect(error?.tenantID == "acme-corp")
    }

    @Test("budget refuses when used plus requested goes over")
    func budgetCheck() throws {
        try enforcer.checkBudget(.tokensPerMonth, current: 99_000, requested: 1_000, for: tenant)
        let error = #expect(throws: TenantLimitExceeded.self) {
            try enforcer.checkBudget(.tokensPerMonth, current: 99_000, requested: 1_001, for: tenant)
        }
        #expect(error?.requested == 1_001)
        #expect(throws: ValidationError.self) { try enforcer.checkBudget(.debatesPerDay, current: 0, requested: 1, for: tenant) }
        #expect(throws: ValidationError.self) { try enforcer.checkCount(.storageBytes, current: 0, for: tenant) }
        #expect(throws: ValidationError.self) { try enforcer.checkCount(.users, current: -1, for: tenant) }
    }

    @Test("usage summary handles a limit of 0")
    func summary() {
        var zero = tenant
        zero.config.maxConnectors = 0
        let lines = enforcer.usageSummary(for: zero, counts: [.connectors: 0, .users: 1])
        #expect(lines.map(\.limitType) == [.users, .connectors])
        #expect(lines.map(\.percentage) == [33, 100])
        #expect(lines.map(\.status) == [.ok, .exhausted])
    }
}
