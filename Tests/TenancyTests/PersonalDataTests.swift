import Foundation
import Tenancy
import Testing

@Suite("Personal data stays out of descriptions and the audit trail")
struct PersonalDataTests {
    @Test("printing a tenant or its context leaves out name and e-mail")
    func redactedDescriptions() async throws {
        let tenant = Tenant(id: "acme-corp", name: "Jane Doe Consulting", tier: .business, adminEmail: "jane@doe.example")

        let printed = String(describing: tenant)
        let nested = "\([tenant])"
        let context = try await TenantContext.withTenant(tenant) { _ in String(describing: TenantContext.current!) }

        #expect(printed == "Tenant(id: acme-corp, tier: business, status: active)")
        #expect(!nested.contains("jane@doe.example"))
        #expect(!nested.contains("Jane Doe"))
        #expect(!context.contains("jane@doe.example"))
        #expect(context.contains("acme-corp"))
    }

    @Test("reasons with an e-mail address are rejected and change nothing")
    func reasonWithEmail() async throws {
        let manager = TenantManager()
        let tenant = try await manager.createTenant(name: "Reasoned", tier: .free, adminEmail: "a@reasoned.example")

        let error = await #expect(throws: ValidationError.self) {
            try await manager.updateStatus(tenant.id, to: .suspended, reason: "asked by bob@reasoned.example")
        }

        #expect(error?.code == .invalidReason)
        #expect(error?.message.contains("bob@") == false)
        #expect(try await manager.tenant(tenant.id).status == .active)
    }

    @Test("names with invisible formatting are rejected", arguments: [
        "Evil\u{202E}corp", "Zero\u{200B}width", "Line\u{2028}break", "Para\u{2029}graph",
    ])
    func invisibleFormatting(name: String) async throws {
        let manager = TenantManager()

        let error = await #expect(throws: ValidationError.self) {
            try await manager.createTenant(name: name, tier: .free, adminEmail: "a@formatting.example")
        }

        #expect(error?.code == .invalidName)
        #expect(try await manager.listTenants().tenants.isEmpty)
    }

    @Test("names with joiners used by scripts and emoji are accepted")
    func joinersAccepted() async throws {
        let manager = TenantManager()

        let tenant = try await manager.createTenant(name: "Family 👩\u{200D}👩\u{200D}👧 Foods", tier: .free, adminEmail: "a@family.example")

        #expect(tenant.id == "family-foods")
    }
}
