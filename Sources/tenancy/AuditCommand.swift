import Foundation
import Tenancy

/// The `audit` command: prints the audit trail, oldest first.
enum AuditCommand {
    static let audit = Command(
        name: "audit",
        summary: "print the audit trail, oldest first, of all tenants or one",
        positionals: [PositionalSpec(name: "ID", isRequired: false, help: "only records of this tenant")],
        run: runAudit)

    /// The number of records read per query while paging through the trail.
    private static let pageSize = 1_000

    private static func runAudit(_ invocation: Invocation) async throws {
        let id = try invocation.positional(0).map(TenantID.init(validating:))
        let registry = try await invocation.openRegistry()
        if let id {
            // Deleted tenants stay in the registry as tombstones, so an unknown id is a typo.
            _ = try await registry.manager.tenant(id)
        }

        var records: [AuditRecord] = []
        var after: Int64?
        while true {
            let page = try await registry.manager.auditRecords(tenantID: id, afterSequence: after, limit: pageSize)
            records += page
            guard page.count == pageSize, let last = page.last?.sequence else { break }
            after = last
        }

        if invocation.json {
            try invocation.console.writeJSON(records.map(AuditRecordOutput.init))
            return
        }
        if records.isEmpty {
            invocation.console.write("No audit records.")
            return
        }
        var table = TextTable("SEQ", "TIME", "TENANT", "ACTION", "OUTCOME", "DETAIL")
        for record in records {
            table.append(
                record.sequence.map(String.init) ?? "-", JSONOutput.timestamp(record.time), record.tenantID?.rawValue ?? "-",
                record.action.rawValue, record.outcome.rawValue, record.detail ?? "")
        }
        invocation.console.write(table.render())
    }
}
