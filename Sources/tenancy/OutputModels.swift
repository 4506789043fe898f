import Foundation
import Tenancy
import TenancyPostgres
import TenancySQLite

/// A tenant as the CLI prints it in JSON.
///
/// Every key is always present, with `null` for an absent value, so scripts can rely on the
/// shape. `adminEmail` is only in single-tenant output (`show`, `create`, `suspend`, ...),
/// never in lists. `changed` is only in the output of commands that change a status
/// (`suspend`, `activate`, `delete`), and is false when the tenant already had that status.
struct TenantOutput: Encodable {
    let tenant: Tenant
    let includesAdminEmail: Bool
    var changed: Bool? = nil

    private enum CodingKeys: String, CodingKey {
        case id, name, tier, status, statusBeforeSuspension, suspensionReason, adminEmail, timeZone, placement
        case createdAt, updatedAt, deletedAt, metadata, changed
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tenant.id.rawValue, forKey: .id)
        try container.encode(tenant.name, forKey: .name)
        try container.encode(tenant.tier.rawValue, forKey: .tier)
        try container.encode(tenant.status.rawValue, forKey: .status)
        try container.encode(tenant.statusBeforeSuspension?.rawValue, forKey: .statusBeforeSuspension)
        try container.encode(tenant.suspensionReason, forKey: .suspensionReason)
        if includesAdminEmail {
            try container.encode(tenant.adminEmail, forKey: .adminEmail)
        }
        try container.encode(tenant.timeZone, forKey: .timeZone)
        try container.encode(tenant.placement.description, forKey: .placement)
        try container.encode(tenant.createdAt, forKey: .createdAt)
        try container.encode(tenant.updatedAt, forKey: .updatedAt)
        try container.encode(tenant.deletedAt, forKey: .deletedAt)
        try container.encode(tenant.metadata, forKey: .metadata)
        try container.encodeIfPresent(changed, forKey: .changed)
    }
}

/// A purge receipt as the CLI prints it in JSON.
///
/// `changed` is only in the output of `delete --purge`, and is false when the tenant was
/// already deleted and the receipt is the stored one.
struct ReceiptOutput: Encodable {
    struct Step: Encodable {
        let purger: String
        let removed: Int
        let finishedAt: Date
    }

    let tenantID: String
    let startedAt: Date
    let completedAt: Date
    let requestedBy: String?
    let steps: [Step]
    let totalRemoved: Int
    let changed: Bool?

    init(_ receipt: PurgeReceipt, changed: Bool? = nil) {
        tenantID = receipt.tenantID.rawValue
        startedAt = receipt.startedAt
        completedAt = receipt.completedAt
        requestedBy = receipt.requestedBy
        steps = receipt.steps.map { Step(purger: $0.purger, removed: $0.removed, finishedAt: $0.finishedAt) }
        totalRemoved = receipt.totalRemoved
        self.changed = changed
    }

    private enum CodingKeys: String, CodingKey {
        case tenantID, startedAt, completedAt, requestedBy, steps, totalRemoved, changed
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(completedAt, forKey: .completedAt)
        try container.encode(requestedBy, forKey: .requestedBy)
        try container.encode(steps, forKey: .steps)
        try container.encode(totalRemoved, forKey: .totalRemoved)
        try container.encodeIfPresent(changed, forKey: .changed)
    }
}

/// An audit record as the CLI prints it in JSON; absent values are `null`.
struct AuditRecordOutput: Encodable {
    let record: AuditRecord

    private enum CodingKeys: String, CodingKey {
        case sequence, time, tenantID, principalID, action, outcome, detail
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.sequence, forKey: .sequence)
        try container.encode(record.time, forKey: .time)
        try container.encode(record.tenantID?.rawValue, forKey: .tenantID)
        try container.encode(record.principalID, forKey: .principalID)
        try container.encode(record.action.rawValue, forKey: .action)
        try container.encode(record.outcome.rawValue, forKey: .outcome)
        try container.encode(record.detail, forKey: .detail)
    }
}

/// An isolation report as `tenancy verify --json` prints it: the report's tables, findings and
/// probes, and whether it passed.
struct IsolationReportOutput: Encodable {
    let passed: Bool
    let tables: [IsolationReport.Table]
    let findings: [IsolationReport.Finding]
    let probes: [IsolationReport.Probe]
    /// On PostgreSQL, the check the database runs for each tenant binding: `library`,
    /// `plpgsql` or `trusted`; absent on SQLite.
    let bindingCheck: String?

    init(_ report: IsolationReport, bindingCheck: PostgresBindingCheck? = nil) {
        passed = report.passed
        tables = report.tables
        findings = report.findings
        probes = report.probes
        self.bindingCheck = bindingCheck?.rawValue
    }
}

/// One result row of `tenancy sql --json`: an object from column name to value.
///
/// NULL becomes null, integers and finite reals numbers, text a string and a blob a base64
/// string. A real that is infinite or NaN becomes a string ("inf", "-inf", "nan"), because
/// JSON has no number for it. A column name that repeats an earlier one gets the suffix
/// ":2", ":3" and so on, so no value is lost. PostgreSQL values are strings in PostgreSQL's
/// text form, or null.
struct SQLRowOutput: Encodable {
    let columnNames: [String]
    let values: [SQLiteValue]

    init(row: SQLiteRow) {
        columnNames = row.columnNames
        values = row.values
    }

    init(row: PostgresRow) {
        columnNames = row.columnNames
        values = row.values.map { $0.map(SQLiteValue.text) ?? .null }
    }

    private struct ColumnKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }

        init(stringValue: String) {
            self.stringValue = stringValue
        }

        init?(intValue: Int) {
            return nil
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ColumnKey.self)
        for (name, value) in zip(Self.uniqueNames(columnNames), values) {
            let key = ColumnKey(stringValue: name)
            switch value {
            case .null:
                try container.encodeNil(forKey: key)
            case .integer(let number):
                try container.encode(number, forKey: key)
            case .real(let number) where number.isFinite:
                try container.encode(number, forKey: key)
            case .real(let number):
                try container.encode(String(number), forKey: key)
            case .text(let text):
                try container.encode(text, forKey: key)
            case .blob(let bytes):
                try container.encode(Data(bytes).base64EncodedString(), forKey: key)
            }
        }
    }

    /// Returns the column names with ":2", ":3", ... added to repeats of an earlier name.
    static func uniqueNames(_ names: [String]) -> [String] {
        var used: Set<String> = []
        return names.map { name in
            var candidate = name
            var suffix = 2
            while used.contains(candidate) {
                candidate = "\(name):\(suffix)"
                suffix += 1
            }
            used.insert(candidate)
            return candidate
        }
    }
}
