import Foundation
public import Tenancy

/// Deletion jobs in PostgreSQL, so a purge resumes after a crash in any process.
public final class PostgresPurgeJobStore: PurgeJobStore {
    let database: PostgresDatabase
    let schema: PostgresRegistrySchema

    /// Opens the job table in `schema`, which ``PostgresRegistrySchema/install(owner:applicationRole:)``
    /// must have installed.
    public init(database: PostgresDatabase, schema: PostgresRegistrySchema) async throws {
        self.database = database
        self.schema = schema
        try await schema.requireInstalled(database)
    }

    private var selectSQL: String {
        """
        SELECT tenant_id, \(PostgresInstant.column("started_at")), requested_by, steps::text AS steps, receipt::text AS receipt
        FROM \(schema.table("tenancy_purge_jobs"))
        """
    }

    public func job(for tenantID: TenantID) async throws -> PurgeJob? {
        let rows = try await database.query(selectSQL + " WHERE tenant_id = $1", [.text(tenantID.rawValue)])
        return try rows.first.map(Self.job(from:))
    }

    /// Stores the job with one upsert; its `WHERE` keeps a stored receipt, so of two callers
    /// finishing the same purge the first receipt stays.
    public func save(_ job: PurgeJob) async throws {
        let arguments: [PostgresValue] = [
            .text(job.tenantID.rawValue), .integer(job.startedAt.millisecondsSince1970),
            job.requestedBy.map { .text($0) } ?? .null, .text(try JSONCoding.encode(job.completedSteps)),
            try job.receipt.map { .text(try JSONCoding.encode($0)) } ?? .null,
        ]
        let table = schema.table("tenancy_purge_jobs")
        try await database.execute(
            """
            INSERT INTO \(table) AS job (tenant_id, started_at, requested_by, steps, receipt)
            VALUES ($1, \(PostgresInstant.parameter(2)), $3, $4, $5)
            ON CONFLICT (tenant_id) DO UPDATE SET started_at = excluded.started_at,
                requested_by = excluded.requested_by, steps = excluded.steps, receipt = excluded.receipt
            WHERE job.receipt IS NULL
            """, arguments)
    }

    public func unfinishedJobs() async throws -> [PurgeJob] {
        let rows = try await database.query(selectSQL + " WHERE receipt IS NULL ORDER BY tenant_id")
        return try rows.map(Self.job(from:))
    }

    static func job(from row: PostgresRow) throws -> PurgeJob {
        PurgeJob(
            tenantID: try TenantID(validating: row.text("tenant_id")),
            startedAt: Date(millisecondsSince1970: try row.integer("started_at")),
            requestedBy: try row.optionalText("requested_by"),
            completedSteps: try JSONCoding.decode([PurgeStep].self, from: row.text("steps")),
            receipt: try row.optionalText("receipt").map { try JSONCoding.decode(PurgeReceipt.self, from: $0) })
    }
}
