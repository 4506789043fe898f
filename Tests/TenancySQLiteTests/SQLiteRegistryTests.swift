import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

@Suite("SQLite registry")
struct SQLiteRegistryTests {
    @Test("tenants survive reopening the file")
    func persistence() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("registry.sqlite")
        let created: Tenant
        do {
            let manager = try await TenantManager.sqlite(try SQLiteDatabase(path: path))
            created = try await manager.createTenant(
                name: "Acme Corporation", tier: .enterprise, adminEmail: "admin@acme.example", timeZone: "Europe/Berlin",
                config: TenantConfig(maxConcurrentDebates: 50, maxAgentsPerDebate: 10, storageQuotaGB: 100))
            try await manager.updateStatus(created.id, to: .suspended, reason: "billing")
        }

        let reopened = try await TenantManager.sqlite(try SQLiteDatabase(path: path))
        let tenant = try await reopened.tenant(created.id)

        #expect(tenant.name == "Acme Corporation")
        #expect(tenant.status == .suspended)
        #expect(tenant.statusBeforeSuspension == .active)
        #expect(tenant.suspensionReason == "billing")
        #expect(tenant.timeZone == "Europe/Berlin")
        #expect(tenant.config.maxConcurrentDebates == 50)
        #expect(tenant.limits.storageQuotaBytes == 100 * (1 << 30))
        #expect(tenant.createdAt == created.createdAt)
    }

    @Test("UPDATE and DELETE on the audit table are rejected")
    func auditAppendOnly() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("audit.sqlite"))
        let manager = try await TenantManager.sqlite(database)
        let tenant = try await manager.createTenant(name: "Audited", tier: .free, adminEmail: "a@audited.example")

        let update = await #expect(throws: SQLiteError.self) {
            try await database.write { try $0.execute("UPDATE tenancy_audit SET action = 'forged'") }
        }
        let delete = await #expect(throws: SQLiteError.self) {
            try await database.write { try $0.execute("DELETE FROM tenancy_audit") }
        }

        #expect(update?.code == .constraintTrigger)
        #expect(delete?.code == .constraintTrigger)
        let records = try await manager.auditRecords(tenantID: tenant.id)
        #expect(records.map(\.action) == [.tenantCreated])
    }

    @Test("INSERT OR REPLACE cannot rewrite an audit record")
    func auditReplaceRejected() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("audit-replace.sqlite"))
        let manager = try await TenantManager.sqlite(database)
        let tenant = try await manager.createTenant(name: "Audited", tier: .free, adminEmail: "a@audited.example")
        let original = try #require(try await manager.auditRecords(tenantID: tenant.id).first)
        let sequence = try #require(original.sequence)

        let replace = await #expect(throws: SQLiteError.self) {
            try await database.write { connection in
                try connection.execute(
                    "INSERT OR REPLACE INTO tenancy_audit (sequence, time, action, outcome) VALUES (?, 0, 'forged', 'success')",
                    [.integer(sequence)])
            }
        }
        let replaceStatement = await #expect(throws: SQLiteError.self) {
            try await database.write { connection in
                try connection.execute(
                    "REPLACE INTO tenancy_audit (sequence, time, action, outcome) VALUES (?, 0, 'forged', 'success')",
                    [.integer(sequence)])
            }
        }

        #expect(replace?.code == .constraintTrigger)
        #expect(replaceStatement?.code == .constraintTrigger)
        let records = try await manager.auditRecords(tenantID: tenant.id)
        #expect(records == [original])
    }

    @Test("audit appends still get increasing sequences")
    func auditSequencesIncrease() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("audit-sequence.sqlite"))
        let manager = try await TenantManager.sqlite(database)
        let tenant = try await manager.createTenant(name: "Audited", tier: .free, adminEmail: "a@audited.example")
        try await manager.updateStatus(tenant.id, to: .suspended)

        let records = try await manager.auditRecords(tenantID: tenant.id)

        #expect(records.map(\.sequence) == [1, 2])
        #expect(records.map(\.action) == [.tenantCreated, .statusChanged])
    }

    @Test("audit records hold no e-mail address or name")
    func auditHasNoPersonalData() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("pii.sqlite"))
        let manager = try await TenantManager.sqlite(database)
        let tenant = try await manager.createTenant(name: "Private Person Ltd", tier: .free, adminEmail: "jane.doe@private.example")
        try await manager.updateStatus(tenant.id, to: .suspended)
        try await manager.deleteTenant(tenant.id, purgeData: true)

        let dump = try await database.read { connection in
            try connection.query("SELECT * FROM tenancy_audit").map { "\($0.values)" }.joined(separator: "\n")
        }

        #expect(!dump.contains("jane.doe"))
        #expect(!dump.contains("Private Person"))
        #expect(dump.contains(tenant.id.rawValue))
    }

    @Test("purge erases name and e-mail from the stored tombstone")
    func tombstone() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("tombstone.sqlite"))
        let manager = try await TenantManager.sqlite(database)
        let tenant = try await manager.createTenant(
            name: "Gone Soon", tier: .starter, adminEmail: "owner@gone.example", metadata: ["crm.id": "42"])

        let receipt = try await manager.deleteTenant(tenant.id, purgeData: true)

        let row = try await database.read { connection in
            try connection.query("SELECT name, admin_email, metadata, status FROM tenancy_tenants WHERE id = ?", [.text(tenant.id.rawValue)])[0]
        }
        #expect(try row.text("name") == "")
        #expect(try row.optionalText("admin_email") == nil)
        #expect(try row.text("metadata") == "{}")
        #expect(try row.text("status") == "deleted")
        #expect(receipt?.steps.map(\.purger) == ["registry"])
        #expect(receipt?.steps.map(\.removed) == [1])
        let again = try await manager.deleteTenant(tenant.id, purgeData: true)
        #expect(again == receipt)
    }
}
