public import Tenancy

/// GCRA state in an SQLite file, exact across every process that opens the file.
///
/// Each decision is one `BEGIN IMMEDIATE` transaction that reads the buckets' TATs, applies
/// ``GCRA/decide(tat:now:bucket:cost:)`` and writes the new TATs only when every bucket allows.
public final class SQLiteRateLimitStore: RateLimitStore {
    let database: SQLiteDatabase

    /// Opens the rate-limit table in `database`, creating or migrating it.
    public init(database: SQLiteDatabase) async throws {
        self.database = database
        try await database.migrate(component: SQLiteQuotaSchema.rateLimitComponent, SQLiteQuotaSchema.rateLimitMigrations)
    }

    public func acquire(_ buckets: [RateLimitBucketRequest], cost: Int64, now: Int64) async throws -> [GCRA.Result] {
        try await database.write { connection in
            let results = try buckets.map { request in
                let tat = try connection.query(
                    "SELECT tat FROM tenancy_rate_limits WHERE subject = ? AND key = ?",
                    [.text(request.key.subject.storageKey), .text(request.key.key)]).first?.integer("tat")
                return GCRA.decide(tat: tat, now: now, bucket: request.bucket, cost: cost)
            }
            if results.allSatisfy(\.allowed) {
                for (request, result) in zip(buckets, results) {
                    try connection.execute(
                        """
                        INSERT INTO tenancy_rate_limits (subject, key, tat) VALUES (?, ?, ?)
                        ON CONFLICT (subject, key) DO UPDATE SET tat = excluded.tat
                        """,
                        [.text(request.key.subject.storageKey), .text(request.key.key), .integer(result.tat)])
                }
            }
            return results
        }
    }

    public func reset(_ subject: QuotaSubject, key: String?) async throws -> Int {
        try await database.write { connection in
            if let key {
                return try connection.execute(
                    "DELETE FROM tenancy_rate_limits WHERE subject = ? AND key = ?", [.text(subject.storageKey), .text(key)])
            }
            return try connection.execute("DELETE FROM tenancy_rate_limits WHERE subject = ?", [.text(subject.storageKey)])
        }
    }
}
