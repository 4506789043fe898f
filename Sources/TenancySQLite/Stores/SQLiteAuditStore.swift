import Foundation
public import Tenancy

/// The audit trail in an SQLite file. Triggers in the schema reject UPDATE and DELETE.
public final class SQLiteAuditStore: AuditStore {
    let database: SQLiteDatabase

    /// Opens the audit trail in `database`, creating or migrating the registry's tables.
    public init(database: SQLiteDatabase) async throws {
        self.database = database
        try await SQLiteRegistrySchema.migrate(database)
    }

    @discardableResult
    public func append(_ record: AuditRecord) async throws -> AuditRecord {
        let arguments: [SQLiteValue] = [
            .integer(record.time.millisecondsSince1970), record.tenantID.map { .text($0.rawValue) } ?? .null,
            record.principalID.map { .text($0) } ?? .null, .text(record.action.rawValue), .text(record.outcome.rawValue),
            record.detail.map { .text($0) } ?? .null,
        ]
        let sequence = try await database.write { connection in
            let rows = try connection.query(
                """
                INSERT INTO tenancy_audit (time, tenant_id, principal_id, action, outcome, detail)
                VALUES (?, ?, ?, ?, ?, ?) RETURNING sequence
                """, arguments)
            return try rows[0].integer("sequence")
        }
        var stored = record
        stored.sequence = sequence
        return stored
    }

    public func records(_ query: AuditQuery) async throws -> [AuditRecord] {
        try query.validate()
        var arguments: [SQLiteValue] = [.integer(query.afterSequence ?? 0)]
        var filter = "sequence > ?"
        if let tenantID = query.tenantID {
            filter += " AND tenant_id = ?"
            arguments.append(.text(tenantID.rawValue))
        }
        arguments.append(.integer(Int64(query.limit)))
        let sql = """
            SELECT sequence, time, tenant_id, principal_id, action, outcome, detail
            FROM tenancy_audit WHERE \(filter) ORDER BY sequence LIMIT ?
            """
        let rows = try await database.read { [arguments] connection in
            try connection.query(sql, arguments)
        }
        return try rows.map { row in
            guard let outcome = AuditOutcome(rawValue: try row.text("outcome")) else {
                throw SQLiteError(code: .mismatch, message: "audit record has an invalid outcome", operation: "decode")
            }
            return AuditRecord(
                sequence: try row.integer("sequence"), time: Date(millisecondsSince1970: try row.integer("time")),
                tenantID: try row.optionalText("tenant_id").map(TenantID.init(validating:)),
                principalID: try row.optionalText("principal_id"), action: AuditAction(try row.text("action")),
                outcome: outcome, detail: try row.optionalText("detail"))
        }
    }
}
