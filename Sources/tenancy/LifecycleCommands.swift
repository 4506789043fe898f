import Foundation
import Tenancy

/// The commands that move tenants through their lifecycle: `suspend`, `activate`, `delete`
/// and `purge-expired`.
enum LifecycleCommands {
    private static let idArgument = PositionalSpec(name: "ID", isRequired: true, help: "the tenant id")

    static let suspend = Command(
        name: "suspend",
        summary: "suspend a tenant, so it can no longer enter a tenant scope",
        options: [.value("reason", "TEXT", help: "why, up to 500 characters; stored in the audit trail, so no personal data")],
        positionals: [idArgument],
        details: """
            Suspending a suspended tenant changes nothing. 'tenancy activate ID' reverses it.
            \(changedNote)
            """,
        run: runSuspend)

    static let activate = Command(
        name: "activate",
        summary: "activate a pending or trial tenant, reactivate a suspended one or restore a cancelled one",
        positionals: [idArgument],
        details: """
            A suspended tenant returns to the status it had before (a suspended trial tenant becomes
            trial again). A cancelled tenant can be restored until its retention period ends.
            \(changedNote)
            """,
        run: runActivate)

    static let delete = Command(
        name: "delete",
        summary: "cancel a tenant, or with --purge delete it and its data",
        options: [.flag("purge", help: "purge the tenant's data now and leave a tombstone; cannot be undone")],
        positionals: [idArgument],
        details: """
            Without --purge the tenant becomes cancelled: 'tenancy activate ID' restores it during the
            retention period (30 days), and 'tenancy purge-expired' purges it afterwards. With --purge
            the name and admin e-mail are erased and a receipt is printed; running it again on a
            deleted tenant prints the stored receipt, and on an interrupted deletion resumes it.
            \(changedNote)
            """,
        run: runDelete)

    /// The help text on the `changed` key of the JSON output.
    private static let changedNote = """
        With --json the output has "changed": true when the command changed the tenant, and
        "changed": false when the tenant was already in the requested state.
        """

    static let purgeExpired = Command(
        name: "purge-expired",
        summary: "purge cancelled tenants past their retention period and resume interrupted deletions",
        run: runPurgeExpired)

    private static func runSuspend(_ invocation: Invocation) async throws {
        let id = try TenantID(validating: invocation.positional(0)!)
        let reason = try invocation.arguments.value("reason").map(InputRules.validatedReason)
        let registry = try await invocation.openRegistry()
        try await changeStatus(id, to: .suspended, reason: reason, verb: "Suspended", in: registry, invocation)
    }

    private static func runActivate(_ invocation: Invocation) async throws {
        let id = try TenantID(validating: invocation.positional(0)!)
        let registry = try await invocation.openRegistry()
        try await changeStatus(id, to: .active, reason: nil, verb: "Activated", in: registry, invocation)
    }

    private static func changeStatus(
        _ id: TenantID, to target: TenantStatus, reason: String?, verb: String, in registry: OpenRegistry,
        _ invocation: Invocation
    ) async throws {
        let before = try await registry.manager.tenant(id)
        let after = try await registry.manager.updateStatus(id, to: target, reason: reason)

        if invocation.json {
            try invocation.console.writeJSON(TenantOutput(tenant: after, includesAdminEmail: true, changed: before != after))
        } else if before == after {
            invocation.console.write("Tenant '\(id)' is already \(after.status); nothing changed.")
        } else {
            invocation.console.write("\(verb) tenant '\(id)': \(before.status) -> \(after.status).")
        }
    }

    private static func runDelete(_ invocation: Invocation) async throws {
        let id = try TenantID(validating: invocation.positional(0)!)
        let registry = try await invocation.openRegistry(tenantData: invocation.arguments.has("purge"))
        let manager = registry.manager

        guard invocation.arguments.has("purge") else {
            let before = try await manager.tenant(id)
            try await manager.deleteTenant(id, purgeData: false)
            let tenant = try await manager.tenant(id)
            if invocation.json {
                try invocation.console.writeJSON(TenantOutput(tenant: tenant, includesAdminEmail: true, changed: before != tenant))
                return
            }
            var message = before == tenant ? "Tenant '\(id)' is already cancelled; nothing changed." : "Cancelled tenant '\(id)'."
            if let cancelledAt = tenant.deletedAt {
                let (seconds, attoseconds) = manager.retentionPeriod.components
                let retention = TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
                let restorableUntil = cancelledAt.addingTimeInterval(retention)
                message += " 'tenancy activate \(id)' restores it until \(JSONOutput.timestamp(restorableUntil));"
                    + " after that 'tenancy purge-expired' purges it."
            }
            invocation.console.write(message)
            return
        }

        // A deleted tenant stays deleted, so a status read before the call tells whether this
        // call purged it or only returned the stored receipt.
        let wasDeleted = try await manager.tenant(id).status == .deleted
        guard let receipt = try await manager.deleteTenant(id, purgeData: true) else {
            // deleteTenant returns a receipt for every purge; nil would be a library bug.
            throw PurgeFailedError(tenantID: id, purger: "registry", underlying: MissingReceipt())
        }
        if invocation.json {
            try invocation.console.writeJSON(ReceiptOutput(receipt, changed: !wasDeleted))
        } else if wasDeleted {
            invocation.console.write("Tenant '\(id)' was already deleted; nothing changed. Its stored receipt:\n\n" + render(receipt))
        } else {
            invocation.console.write("Deleted tenant '\(id)' and purged its data.\n\n" + render(receipt))
        }
    }

    private struct MissingReceipt: Error, CustomStringConvertible {
        var description: String { "the deletion returned no receipt" }
    }

    private static func runPurgeExpired(_ invocation: Invocation) async throws {
        let registry = try await invocation.openRegistry(tenantData: true)
        let receipts = try await registry.manager.purgeExpired()

        if invocation.json {
            try invocation.console.writeJSON(receipts.map { ReceiptOutput($0) })
            return
        }
        guard !receipts.isEmpty else {
            invocation.console.write("No tenants to purge.")
            return
        }
        var table = TextTable("ID", "REMOVED", "COMPLETED")
        for receipt in receipts {
            table.append(receipt.tenantID.rawValue, "\(receipt.totalRemoved)", JSONOutput.timestamp(receipt.completedAt))
        }
        let noun = receipts.count == 1 ? "tenant" : "tenants"
        invocation.console.write("Purged \(receipts.count) \(noun).\n\n" + table.render())
    }

    /// Formats a purge receipt: the times, who requested it and one row per purger.
    static func render(_ receipt: PurgeReceipt) -> String {
        var fields = FieldList()
        fields.append("Tenant", receipt.tenantID.rawValue)
        fields.append("Started", JSONOutput.timestamp(receipt.startedAt))
        fields.append("Completed", JSONOutput.timestamp(receipt.completedAt))
        fields.append("Requested by", receipt.requestedBy)
        fields.append("Items removed", "\(receipt.totalRemoved)")

        var table = TextTable("PURGER", "REMOVED", "FINISHED")
        for step in receipt.steps {
            table.append(step.purger, "\(step.removed)", JSONOutput.timestamp(step.finishedAt))
        }
        return fields.render() + "\n\n" + table.render()
    }
}
