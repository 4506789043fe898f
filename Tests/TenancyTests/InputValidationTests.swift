import Foundation
import Testing
import Tenancy
import TenancyTesting

@Suite("Input validation on create")
struct InputValidationTests {
    /// Checks that nothing was stored: no tenant and no audit record.
    func expectNothingStored(in manager: TenantManager) async throws {
        #expect(try await manager.listTenants().tenants == [])
        #expect(try await manager.auditRecords() == [])
    }

    @Test("Invalid e-mail is rejected without repeating it", arguments: [
        "admin.example.com",
        "ad@min@example.com",
        "admin@localhost",
        "ad min@example.com",
        "admin@example.com ",
        "admin@.example.com",
        "admin@example.com.",
        "@example.com",
        "",
        String(repeating: "a", count: 65) + "@example.com",
        String(repeating: "a", count: 64) + "@" + String(repeating: "b", count: 186) + ".com",
    ])
    func invalidEmail(email: String) async throws {
        let (manager, _) = makeManager()
        let error = try await #require(throws: ValidationError.self) {
            try await manager.createTenant(name: "Acme", tier: .free, adminEmail: email, id: "acme-corp")
        }
        #expect(error.code == .invalidEmail)
        #expect(error.field == "admin e-mail")
        #expect(error.message.hasPrefix("invalid admin e-mail: "))
        if !email.isEmpty {
            #expect(!error.message.contains(email))
            #expect(!error.description.contains(email))
        }
        try await expectNothingStored(in: manager)
    }

    @Test("Longest valid e-mail and local part are accepted")
    func longestValidEmail() async throws {
        let (manager, _) = makeManager()
        let email = String(repeating: "a", count: 64) + "@" + String(repeating: "b", count: 185) + ".com"
        #expect(email.count == 254)

        let created = try await manager.createTenant(name: "Acme", tier: .free, adminEmail: email, id: "acme-corp")
        #expect(created.adminEmail == email)
    }

    @Test("Invalid time zone is rejected", arguments: ["Mars/Olympus_Mons", "utc", "", "Europe/Berlin "])
    func invalidTimeZone(timeZone: String) async throws {
        let (manager, _) = makeManager()
        let error = try await #require(throws: ValidationError.self) {
            try await manager.createTenant(
                name: "Acme", tier: .free, adminEmail: "admin@acme.com", id: "acme-corp", timeZone: timeZone)
        }
        #expect(error.code == .invalidTimeZone)
        #expect(error.message.hasPrefix("invalid time zone \"\(timeZone)\": "))
        try await expectNothingStored(in: manager)
    }

    @Test("Valid time zone is stored")
    func validTimeZone() async throws {
        let (manager, _) = makeManager()
        let created = try await manager.createTenant(
            name: "Acme", tier: .free, adminEmail: "admin@acme.com", id: "acme-corp", timeZone: "Europe/Berlin")
        #expect(created.timeZone == "Europe/Berlin")
        #expect(try await manager.tenant("acme-corp").timeZone == "Europe/Berlin")
    }

    @Test("Invalid name is rejected", arguments: [
        ("", "invalid name: must not be empty"),
        ("   \n ", "invalid name: must not be empty"),
        (String(repeating: "n", count: 201), "invalid name: must be at most 200 characters, got 201"),
        ("Acme\u{7}Corp", "invalid name: must not contain control characters, line separators or invisible formatting characters such as bidirectional overrides"),
    ])
    func invalidName(name: String, message: String) async throws {
        let (manager, _) = makeManager()
        let error = try await #require(throws: ValidationError.self) {
            try await manager.createTenant(name: name, tier: .free, adminEmail: "admin@acme.com", id: "acme-corp")
        }
        #expect(error.code == .invalidName)
        #expect(error.message == message)
        try await expectNothingStored(in: manager)
    }

    @Test("Name of 200 characters is accepted and trimmed")
    func longestName() async throws {
        let (manager, _) = makeManager()
        let name = String(repeating: "n", count: 200)
        let created = try await manager.createTenant(
            name: "  " + name + "  ", tier: .free, adminEmail: "admin@acme.com", id: "acme-corp")
        #expect(created.name == name)
    }

    @Test(
        "Initial status other than active, trial or pending is rejected",
        arguments: [TenantStatus.provisioning, .suspended, .cancelled, .deleting, .deleted])
    func invalidInitialStatus(status: TenantStatus) async throws {
        let (manager, _) = makeManager()
        let error = try await #require(throws: ValidationError.self) {
            try await manager.createTenant(
                name: "Acme", tier: .free, adminEmail: "admin@acme.com", id: "acme-corp", status: status)
        }
        #expect(error.code == .invalidArgument)
        #expect(error.message == "invalid initial status \(status): expected active, trial or pending")
        try await expectNothingStored(in: manager)
    }

    @Test("Taken explicit id is rejected")
    func takenID() async throws {
        let (manager, _) = makeManager()
        let first = try await createTenant("acme-corp", in: manager)

        await #expect(throws: TenantAlreadyExistsError(tenantID: "acme-corp")) {
            try await manager.createTenant(name: "Other", tier: .free, adminEmail: "x@other.com", id: "acme-corp")
        }
        #expect(try await manager.listTenants().tenants == [first])
    }

    @Test("New tenant gets defaults and audit record")
    func createdDefaults() async throws {
        let (manager, _) = makeManager()
        let created = try await manager.createTenant(
            name: "New Customer", tier: .business, adminEmail: "admin@newcustomer.com")

        let expected = Tenant(
            id: "new-customer", name: "New Customer", tier: .business, status: .active,
            adminEmail: "admin@newcustomer.com", timeZone: "UTC", placement: .pool, createdAt: startDate)
        #expect(created == expected)
        #expect(try await manager.tenant("new-customer") == expected)

        let records = try await manager.auditRecords()
        #expect(records.count == 1)
        #expect(records.first?.action == .tenantCreated)
        #expect(records.first?.tenantID == "new-customer")
        #expect(records.first?.detail == "tier=business status=active")
    }
}
