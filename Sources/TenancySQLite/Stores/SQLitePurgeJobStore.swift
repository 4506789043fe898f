import Foundation
public import Tenancy

/// Deletion jobs in an SQLite file, so a purge resumes after a crash in any process.
public final class SQLitePurgeJobStore: PurgeJobStore {
    let database: SQLiteDatabase

    /// Opens the job table in `database`, creating or migrating the registry's tables.
    public init(database: SQLiteDatabase) async throws {
        self.database = database
        try await SQLiteRegistrySchema.migrate(database)
    }

    public func job(for tenantID: TenantID) async throws -> PurgeJob? {
        let rows = try await database.read { connection in
            try connection.query(
                "SELECT tenant_id, started_at, requested_by, steps, receipt FROM tenancy_purge_jobs WHERE tenant_id = ?",
                [.text(tenantID.rawValue)])
        }
        return try rows.first.map(Self.job(from:))
    }

    public func save(_ job: PurgeJob) async throws {
        let arguments: [SQLiteValue] = [
            .text(job.tenantID.rawValue), .integer(job.startedAt.millisecondsSince1970),
            job.requestedBy.map { .text($0) } ?? .null, .text(try JSONCoding.encode(job.completedSteps)),
            try job.receipt.map { .text(try JSONCoding.encode($0)) } ?? .null,
        ]
        try await database.write { connection in
            try connection.execute(
                """
                INSERT INTO tenancy_purge_jobs (tenant_id, started_at, requested_by, steps, receipt) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id) DO UPDATE SET started_at = excluded.started_at,
                    requested_by = excluded.requested_by, steps = excluded.steps, receipt = excluded.receipt
                WHERE tenancy_purge_jobs.receipt IS NULL
                """, arguments)
        }
    }

    public func unfinishedJobs() async throws -> [PurgeJob] {
        let rows = try await database.read { connection in
            try connection.query(
                "SELECT tenant_id, started_at, requested_by, steps, receipt FROM tenancy_purge_jobs WHERE receipt IS NULL ORDER BY tenant_id")
        }
        return try rows.map(Self.job(from:))
    }

    static func job(from row: SQLiteRow) throws -> PurgeJob {
        PurgeJob(
            tenantID: try TenantID(validating: row.text("tenant_id")),
            startedAt: Date(millisecondsSince1970: try row.integer("started_at")),
            requestedBy: try row.optionalText("requested_by"),
            completedSteps: try JSONCoding.decode([PurgeStep].self, from: row.text("steps")),
            receipt: try row.optionalText("receipt").map { try JSONCoding.decode(PurgeReceipt.self, from: $0) })
    }
}
