public import Tenancy

/// GCRA state in PostgreSQL, exact across every process that connects to the database.
///
/// Each decision is one statement (``acquireSQL``) that locks the buckets' rows in key order,
/// applies the arithmetic of ``GCRA/decide(tat:now:bucket:cost:)`` in `bigint` nanoseconds,
/// and stores every new TAT only when every bucket allows. Integer division in PostgreSQL
/// truncates toward zero, as Swift's does, so both give identical results. As in
/// ``PostgresQuotaStore``, a bucket created concurrently makes the statement fail with a
/// unique violation and run again.
public final class PostgresRateLimitStore: RateLimitStore {
    let database: PostgresDatabase
    /// The schema the table lives in.
    public let schema: PostgresQuotaSchema

    /// The decision statement. Its parameters are `$1` subjects, `$2` keys (text arrays), `$3`
    /// emission intervals and `$4` bursts (bigint arrays) with one element per bucket, then `$5`
    /// the cost and `$6` the instant in nanoseconds since 1970. It returns one row per bucket, in order,
    /// with the columns of ``GCRA/Result``.
    public let acquireSQL: String
    private let resetSQL: String

    /// Opens the rate-limit table in `schema`, which ``PostgresQuotaSchema/install(owner:applicationRole:)``
    /// must have installed.
    ///
    /// - Parameter database: the pool of the application role.
    public init(database: PostgresDatabase, schema: PostgresQuotaSchema) async throws {
        self.database = database
        self.schema = schema
        let buckets = schema.table("tenancy_rate_limits")
        acquireSQL = Self.acquireSQL(buckets: buckets)
        resetSQL = """
            WITH doomed AS (
                SELECT subject, key FROM \(buckets) WHERE subject = $1 AND ($2::text IS NULL OR key = $2) ORDER BY key FOR UPDATE
            ),
            removed AS (
                DELETE FROM \(buckets) b USING doomed d WHERE b.subject = d.subject AND b.key = d.key RETURNING 1
            )
            SELECT count(*) AS removed FROM removed
            """
        try await schema.requireInstalled(
            database, component: PostgresQuotaSchema.rateLimitComponent, migrations: PostgresQuotaSchema.rateLimitMigrations)
    }

    // The CTEs, with GCRA.decide's names: `base` is max(TAT, now) (now for a bucket never
    // used) and `capacity` is burst * emission interval. `next` is base + cost * interval, or
    // NULL when the cost is above the burst, so that product is never computed for a request
    // that can never be admitted. A bucket allows when next - capacity <= now.
    static func acquireSQL(buckets: String) -> String {
        """
        WITH line AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[])
                WITH ORDINALITY AS l (subject, key, emission_interval, burst, position)
        ),
        stored AS (
            SELECT b.subject, b.key, b.tat
            FROM \(buckets) b JOIN line l ON b.subject = l.subject AND b.key = l.key
            ORDER BY b.subject, b.key
            FOR UPDATE OF b
        ),
        based AS (
            SELECT l.position, l.subject, l.key, l.emission_interval, s.subject IS NOT NULL AS present, s.tat AS prior_tat,
                greatest(coalesce(s.tat, $6::int8), $6::int8) AS base, l.burst * l.emission_interval AS capacity,
                CASE WHEN $5::int8 > l.burst THEN NULL
                    ELSE greatest(coalesce(s.tat, $6::int8), $6::int8) + $5::int8 * l.emission_interval END AS next
            FROM line l LEFT JOIN stored s ON s.subject = l.subject AND s.key = l.key
        ),
        decided AS (
            SELECT b.*, b.next IS NOT NULL AND b.next - b.capacity <= $6::int8 AS allowed FROM based b
        ),
        verdict AS (
            SELECT bool_and(allowed) AS all_allowed FROM decided
        ),
        inserted AS (
            INSERT INTO \(buckets) (subject, key, tat)
            SELECT d.subject, d.key, d.next FROM decided d, verdict v WHERE v.all_allowed AND NOT d.present
            RETURNING 1
        ),
        updated AS (
            UPDATE \(buckets) b SET tat = d.next
            FROM decided d, verdict v
            WHERE v.all_allowed AND d.present AND b.subject = d.subject AND b.key = d.key
            RETURNING 1
        )
        SELECT
            prior_tat,
            allowed,
            CASE WHEN allowed THEN next ELSE base END AS tat,
            CASE WHEN next IS NULL THEN 0
                WHEN allowed THEN (capacity - (next - $6::int8)) / emission_interval
                ELSE greatest(0, (capacity - (base - $6::int8)) / emission_interval) END AS remaining,
            CASE WHEN allowed THEN next - $6::int8 ELSE base - $6::int8 END AS reset_after,
            CASE WHEN next IS NULL THEN NULL WHEN allowed THEN 0 ELSE next - capacity - $6::int8 END AS retry_after
        FROM decided ORDER BY position
        """
    }

    /// Returns the arguments of ``acquireSQL``.
    ///
    /// - Throws: ``PostgresQuotaStoreError`` with code `duplicateKey` when two buckets share a
    ///   key, or `invalidCost` for a cost below 1.
    public static func acquireArguments(_ buckets: [RateLimitBucketRequest], cost: Int64, now: Int64) throws -> [PostgresValue] {
        guard cost >= 1 else {
            throw PostgresQuotaStoreError(.invalidCost, "invalid rate-limit cost \(cost): expected 1 or more")
        }
        var seen = Set<RateLimitBucketKey>()
        for bucket in buckets where !seen.insert(bucket.key).inserted {
            throw PostgresQuotaStoreError(
                .duplicateKey,
                "invalid rate-limit decision: the bucket \(bucket.key.subject.storageKey) \(bucket.key.key) appears twice; pass each bucket once")
        }
        return [
            PostgresArray.text(buckets.map(\.key.subject.storageKey)),
            PostgresArray.text(buckets.map(\.key.key)),
            PostgresArray.integers(buckets.map(\.bucket.emissionInterval)),
            PostgresArray.integers(buckets.map(\.bucket.burst)),
            .integer(cost),
            .integer(now),
        ]
    }

    public func acquire(_ buckets: [RateLimitBucketRequest], cost: Int64, now: Int64) async throws -> [GCRA.Result] {
        let arguments = try Self.acquireArguments(buckets, cost: cost, now: now)
        guard !buckets.isEmpty else { return [] }
        let rows = try await retryingConflicts(operation: "rate-limit decision") {
            try await database.query(acquireSQL, arguments)
        }
        guard rows.count == buckets.count else {
            throw PostgresError(
                .protocolViolation, operation: "rate-limit decision",
                message: "the decision statement returned \(rows.count) rows for \(buckets.count) buckets")
        }
        return try zip(buckets, rows).map { request, row in
            try Self.checkedResult(row, request: request, cost: cost, now: now)
        }
    }

    /// Returns ``GCRA/decide(tat:now:bucket:cost:)`` for the TAT the statement locked, after
    /// checking that the statement's own columns equal it. A difference would mean the two
    /// implementations of the arithmetic disagree, so the call throws instead of trusting either
    /// (the statement has already stored its TATs by then).
    static func checkedResult(_ row: PostgresRow, request: RateLimitBucketRequest, cost: Int64, now: Int64) throws -> GCRA.Result {
        let expected = GCRA.decide(tat: try row.optionalInteger("prior_tat"), now: now, bucket: request.bucket, cost: cost)
        let matches = try row.boolean("allowed") == expected.allowed && row.integer("tat") == expected.tat
            && row.integer("remaining") == expected.remaining && row.integer("reset_after") == expected.resetAfter
            && row.optionalInteger("retry_after") == expected.retryAfter
        guard matches else {
            throw PostgresError(
                .protocolViolation, operation: "rate-limit decision",
                message: "the statement's GCRA result for bucket \(request.key.subject.storageKey) \(request.key.key) differs from GCRA.decide; "
                    + "check that the schema's statement and the library version match")
        }
        return expected
    }

    public func reset(_ subject: QuotaSubject, key: String?) async throws -> Int {
        let rows = try await retryingConflicts(operation: "rate-limit reset") {
            try await database.query(resetSQL, [.text(subject.storageKey), key.map { .text($0) } ?? .null])
        }
        return Int(try rows.first?.integer("removed") ?? 0)
    }
}
