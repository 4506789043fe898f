import Foundation
public import Tenancy

/// The audit trail in PostgreSQL.
///
/// Append-only is enforced by grants: the application role has only INSERT and SELECT on the
/// table, so an UPDATE or DELETE from it fails with `insufficient_privilege`.
///
/// NOTE: sequences come from an identity column, so two concurrent appends may commit in the
/// opposite order of their sequences. A reader paging with `afterSequence` while appends run
/// can then skip the one that commits later. Sequences are unique and increase per append.
public final class PostgresAuditStore: AuditStore {
    let database: PostgresDatabase
    let schema: PostgresRegistrySchema

    /// Opens the audit trail in `schema`, which ``PostgresRegistrySchema/install(owner:applicationRole:)``
    /// must have installed.
    public init(database: PostgresDatabase, schema: PostgresRegistrySchema) async throws {
        self.database = database
        self.schema = schema
        try await schema.requireInstalled(database)
    }

    @discardableResult
    public func append(_ record: AuditRecord) async throws -> AuditRecord {
        let arguments: [PostgresValue] = [
            .integer(record.time.millisecondsSince1970), record.tenantID.map { .text($0.rawValue) } ?? .null,
            record.principalID.map { .text($0) } ?? .null, .text(record.action.rawValue), .text(record.outcome.rawValue),
            record.detail.map { .text($0) } ?? .null,
        ]
        let rows = try await database.query(
            """
            INSERT INTO \(schema.table("tenancy_audit")) (time, tenant_id, principal_id, action, outcome, detail)
            VALUES (\(PostgresInstant.parameter(1)), $2, $3, $4, $5, $6) RETURNING sequence
            """, arguments)
        guard let row = rows.first else {
            throw PostgresError(.protocolViolation, operation: "append audit record", message: "the insert returned no sequence")
        }
        var stored = record
        stored.sequence = try row.integer("sequence")
        return stored
    }

    public func records(_ query: AuditQuery) async throws -> [AuditRecord] {
        try query.validate()
        var arguments: [PostgresValue] = [.integer(query.afterSequence ?? 0)]
        var filter = "sequence > $1"
        if let tenantID = query.tenantID {
            arguments.append(.text(tenantID.rawValue))
            filter += " AND tenant_id = $\(arguments.count)"
        }
        arguments.append(.integer(Int64(query.limit)))
        let rows = try await database.query(
            """
            SELECT sequence, \(PostgresInstant.column("time")), tenant_id, principal_id, action, outcome, detail
            FROM \(schema.table("tenancy_audit")) WHERE \(filter) ORDER BY sequence LIMIT $\(arguments.count)
            """, arguments)
        return try rows.map { row in
            guard let outcome = AuditOutcome(rawValue: try row.text("outcome")) else {
                throw PostgresError(.decoding, operation: "decode", message: "audit record has an invalid outcome")
            }
            return AuditRecord(
                sequence: try row.integer("sequence"), time: Date(millisecondsSince1970: try row.integer("time")),
                tenantID: try row.optionalText("tenant_id").map(TenantID.init(validating:)),
                principalID: try row.optionalText("principal_id"), action: AuditAction(try row.text("action")),
                outcome: outcome, detail: try row.optionalText("detail"))
        }
    }
}
