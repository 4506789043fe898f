import Foundation
import Tenancy

/// The commands that create and read tenants: `create`, `list` and `show`.
enum TenantCommands {
    static let create = Command(
        name: "create",
        summary: "create a tenant",
        options: [
            .value("name", "NAME", required: true, help: "the display name, 1 to 200 characters"),
            .value("tier", "TIER", required: true, help: "free, starter, professional, business or enterprise"),
            .value("admin-email", "EMAIL", required: true, help: "the admin's e-mail address"),
            .value("id", "ID", help: "the tenant id (default: derived from the name)"),
            .flag("trial", help: "start the tenant in trial status instead of active"),
            .value("time-zone", "TZ", help: "an IANA time zone such as Europe/Berlin (default UTC)"),
        ],
        details: """
            Tenant ids are 3 to 48 characters of a-z, 0-9 and '-', start with a letter, and are not
            reserved words such as admin or api. Creates the database file when it does not exist.
            """,
        run: runCreate)

    static let list = Command(
        name: "list",
        summary: "list tenants, ordered by id",
        options: [
            .value("status", "STATUS", help: "only tenants in this status: \(TenantStatus.allCases.map(\.rawValue).joined(separator: ", "))"),
            .value("tier", "TIER", help: "only tenants on this tier"),
        ],
        details: "Lists every matching tenant. Admin e-mail addresses are left out; 'tenancy show ID' prints them.",
        run: runList)

    static let show = Command(
        name: "show",
        summary: "print one tenant, including its admin e-mail",
        positionals: [PositionalSpec(name: "ID", isRequired: true, help: "the tenant id")],
        run: runShow)

    private static func runCreate(_ invocation: Invocation) async throws {
        let arguments = invocation.arguments
        // Every input is checked before the database file is opened, because opening creates
        // it: a rejected command line leaves no file behind.
        let tier = try TenantTier(validating: arguments.value("tier")!)
        let id = try arguments.value("id").map(TenantID.init(validating:))
        _ = try InputRules.validatedName(arguments.value("name")!)
        _ = try InputRules.validatedEmail(arguments.value("admin-email")!)
        _ = try InputRules.validatedTimeZone(arguments.value("time-zone") ?? "UTC")
        let registry = try await invocation.openRegistry(create: true)
        let tenant = try await registry.manager.createTenant(
            name: arguments.value("name")!, tier: tier, adminEmail: arguments.value("admin-email")!, id: id,
            status: arguments.has("trial") ? .trial : .active, timeZone: arguments.value("time-zone") ?? "UTC")

        if invocation.json {
            try invocation.console.writeJSON(TenantOutput(tenant: tenant, includesAdminEmail: true))
        } else {
            invocation.console.write("Created tenant '\(tenant.id)'.\n\n" + details(of: tenant))
        }
    }

    private static func runList(_ invocation: Invocation) async throws {
        let status = try invocation.arguments.value("status").map(parseStatus)
        let tier = try invocation.arguments.value("tier").map(TenantTier.init(validating:))
        let registry = try await invocation.openRegistry()

        var tenants: [Tenant] = []
        var cursor: TenantID?
        repeat {
            let page = try await registry.manager.listTenants(status: status, tier: tier, after: cursor, limit: 1_000)
            tenants += page.tenants
            cursor = page.nextCursor
        } while cursor != nil

        if invocation.json {
            try invocation.console.writeJSON(tenants.map { TenantOutput(tenant: $0, includesAdminEmail: false) })
            return
        }
        if tenants.isEmpty {
            invocation.console.write(status == nil && tier == nil ? "No tenants." : "No tenants match.")
            return
        }
        var table = TextTable("ID", "NAME", "TIER", "STATUS", "CREATED")
        for tenant in tenants {
            table.append(
                tenant.id.rawValue, TextTable.truncated(tenant.name, to: 40), tenant.tier.rawValue,
                tenant.status.rawValue, JSONOutput.timestamp(tenant.createdAt))
        }
        invocation.console.write(table.render())
    }

    private static func runShow(_ invocation: Invocation) async throws {
        let id = try TenantID(validating: invocation.positional(0)!)
        let registry = try await invocation.openRegistry()
        let tenant = try await registry.manager.tenant(id)
        if invocation.json {
            try invocation.console.writeJSON(TenantOutput(tenant: tenant, includesAdminEmail: true))
        } else {
            invocation.console.write(details(of: tenant))
        }
    }

    /// Parses a status name given on the command line.
    static func parseStatus(_ text: String) throws -> TenantStatus {
        guard let status = TenantStatus(rawValue: text) else {
            throw UsageError(
                "invalid status '\(ArgumentParser.displayed(text))': expected one of "
                    + TenantStatus.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return status
    }

    /// Formats a tenant as aligned fields, for `show` and the commands that change one tenant.
    static func details(of tenant: Tenant) -> String {
        var fields = FieldList()
        fields.append("ID", tenant.id.rawValue)
        fields.append("Name", tenant.name.isEmpty ? nil : tenant.name)
        fields.append("Tier", tenant.tier.rawValue)
        fields.append("Status", tenant.status.rawValue)
        if tenant.status == .suspended {
            fields.append("Before suspension", tenant.statusBeforeSuspension?.rawValue)
            fields.append("Suspension reason", tenant.suspensionReason)
        }
        fields.append("Admin e-mail", tenant.adminEmail)
        fields.append("Time zone", tenant.timeZone)
        fields.append("Placement", tenant.placement.description)
        fields.append("Created", JSONOutput.timestamp(tenant.createdAt))
        fields.append("Updated", JSONOutput.timestamp(tenant.updatedAt))
        if let deletedAt = tenant.deletedAt {
            fields.append(tenant.status == .cancelled ? "Cancelled" : "Deleted", JSONOutput.timestamp(deletedAt))
        }
        for key in tenant.metadata.keys.sorted() {
            fields.append("Metadata \(key)", tenant.metadata[key])
        }
        return fields.render()
    }
}
