public import Foundation
public import Tenancy

/// Quota counters, refunds and leases in PostgreSQL, exact across every process that connects
/// to the database.
///
/// Every method is one SQL statement, so one round trip and one implicit transaction. A charge
/// reads and locks all its counters (`SELECT ... FOR UPDATE`, in key order so two decisions
/// never wait on each other in a cycle), decides whether every line fits, and writes all lines
/// or none; see ``chargeSQL``. A counter that does not exist yet is inserted without
/// `ON CONFLICT`: when a concurrent decision created it first, the insert fails with a unique
/// violation, the whole statement rolls back, and the store runs it again, now locking the row.
public final class PostgresQuotaStore: QuotaStore {
    let database: PostgresDatabase
    /// The schema the tables live in.
    public let schema: PostgresQuotaSchema

    /// The charge statement. Parameters: `$1` subjects, `$2` quota names, `$3` periods (text
    /// arrays), `$4` window starts, `$5` window ends, `$6` amounts, `$7` limits (bigint arrays),
    /// one element per line. It returns one row per line, in line order: the counter's value in
    /// the line's window before the charge, and the position (from 1) of the first line that
    /// does not fit, NULL when all fit and were charged.
    public let chargeSQL: String
    private let usedSQL: String
    private let refundSQL: String
    private let decrementSQL: String
    private let acquireLeaseSQL: String
    private let releaseLeaseSQL: String
    private let activeLeasesSQL: String
    private let resetSQL: String
    private let purgeSQL: String

    /// Opens the quota tables in `schema`, which ``PostgresQuotaSchema/install(owner:applicationRole:)``
    /// must have installed.
    ///
    /// - Parameter database: the pool of the application role.
    public init(database: PostgresDatabase, schema: PostgresQuotaSchema) async throws {
        self.database = database
        self.schema = schema
        let counters = schema.table("tenancy_quota_counters")
        let refunds = schema.table("tenancy_quota_refunds")
        let leases = schema.table("tenancy_quota_leases")
        chargeSQL = Self.chargeSQL(counters: counters)
        usedSQL = """
            SELECT CASE WHEN c.subject IS NULL OR c.window_start < l.window_start THEN 0 ELSE c.used END AS used
            FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[]) WITH ORDINALITY AS l (subject, quota, period, window_start, position)
            LEFT JOIN \(counters) c ON c.subject = l.subject AND c.quota = l.quota AND c.period = l.period
            ORDER BY l.position
            """
        refundSQL = Self.refundSQL(counters: counters, refunds: refunds)
        decrementSQL = """
            UPDATE \(counters) SET used = greatest(0, used - $4) WHERE subject = $1 AND quota = $2 AND period = $3 RETURNING used
            """
        acquireLeaseSQL = Self.acquireLeaseSQL(leases: leases)
        // Both arrays lose the element at the lease's position. Every array_position call reads
        // the row as it was before the update, so the two positions are the same.
        releaseLeaseSQL = """
            UPDATE \(leases) SET
                lease_ids = lease_ids[:array_position(lease_ids, $3::uuid) - 1] || lease_ids[array_position(lease_ids, $3::uuid) + 1:],
                expires_at = expires_at[:array_position(lease_ids, $3::uuid) - 1] || expires_at[array_position(lease_ids, $3::uuid) + 1:]
            WHERE subject = $1 AND quota = $2 AND $3::uuid = ANY (lease_ids)
            """
        activeLeasesSQL = """
            SELECT count(*) AS active FROM \(leases) l, unnest(l.expires_at) AS e (expires_at)
            WHERE l.subject = $1 AND l.quota = $2 AND e.expires_at > $3
            """
        // Rows are locked in key order before they are deleted, as charges lock them.
        resetSQL = """
            WITH doomed_counters AS (
                SELECT subject, quota, period FROM \(counters)
                WHERE subject = $1 AND ($2::text IS NULL OR quota = $2) ORDER BY quota, period FOR UPDATE
            ),
            removed_counters AS (
                DELETE FROM \(counters) c USING doomed_counters d
                WHERE c.subject = d.subject AND c.quota = d.quota AND c.period = d.period RETURNING 1
            ),
            removed_leases AS (
                DELETE FROM \(leases) WHERE subject = $1 AND ($2::text IS NULL OR quota = $2) RETURNING cardinality(lease_ids) AS leases
            )
            SELECT (SELECT count(*) FROM removed_counters) + (SELECT coalesce(sum(leases), 0) FROM removed_leases) AS removed
            """
        purgeSQL = """
            WITH doomed_counters AS (
                SELECT subject, quota, period FROM \(counters) WHERE subject = $1 ORDER BY quota, period FOR UPDATE
            ),
            removed_counters AS (
                DELETE FROM \(counters) c USING doomed_counters d
                WHERE c.subject = d.subject AND c.quota = d.quota AND c.period = d.period RETURNING 1
            ),
            removed_leases AS (
                DELETE FROM \(leases) WHERE subject = $1 RETURNING cardinality(lease_ids) AS leases
            ),
            removed_refunds AS (
                DELETE FROM \(refunds) WHERE tenant_id = $2 RETURNING 1
            )
            SELECT (SELECT count(*) FROM removed_counters) + (SELECT coalesce(sum(leases), 0) FROM removed_leases)
                + (SELECT count(*) FROM removed_refunds) AS removed
            """
        try await schema.requireInstalled(database, component: PostgresQuotaSchema.quotaComponent, migrations: PostgresQuotaSchema.quotaMigrations)
    }

    // MARK: - Charges

    // How the statement decides, CTE by CTE:
    // - `line` turns the array parameters back into rows, numbered in line order.
    // - `stored` locks every existing counter of the decision, in key order. Under READ
    //   COMMITTED a row another transaction changed since this statement began is re-read at
    //   its newest committed version once the lock is granted, so the values are current.
    // - `seen` applies StoredQuotaCounter.seen(in:): no row or an older window counts 0 in the
    //   line's window; a newer stored window is kept.
    // - `verdict` finds the first line with used + amount above its limit. It aggregates over
    //   every line, so every lock is taken before either write below runs.
    // - `inserted` and `updated` write every line when none is refused, and nothing otherwise.
    static func chargeSQL(counters: String) -> String {
        """
        WITH line AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[])
                WITH ORDINALITY AS l (subject, quota, period, window_start, window_end, amount, max_used, position)
        ),
        stored AS (
            SELECT c.subject, c.quota, c.period, c.window_start, c.window_end, c.used
            FROM \(counters) c JOIN line l ON c.subject = l.subject AND c.quota = l.quota AND c.period = l.period
            ORDER BY c.subject, c.quota, c.period
            FOR UPDATE OF c
        ),
        seen AS (
            SELECT l.position, l.subject, l.quota, l.period, l.amount, l.max_used, s.subject IS NOT NULL AS present,
                CASE WHEN f.fresh THEN l.window_start ELSE s.window_start END AS window_start,
                CASE WHEN f.fresh THEN l.window_end ELSE s.window_end END AS window_end,
                CASE WHEN f.fresh THEN 0 ELSE s.used END AS used
            FROM line l
            LEFT JOIN stored s ON s.subject = l.subject AND s.quota = l.quota AND s.period = l.period
            CROSS JOIN LATERAL (SELECT s.subject IS NULL OR s.window_start < l.window_start AS fresh) f
        ),
        verdict AS (
            SELECT min(position) FILTER (WHERE used > max_used - amount) AS rejected_at FROM seen
        ),
        inserted AS (
            INSERT INTO \(counters) (subject, quota, period, window_start, window_end, used)
            SELECT s.subject, s.quota, s.period, s.window_start, s.window_end, s.used + s.amount
            FROM seen s, verdict v WHERE v.rejected_at IS NULL AND NOT s.present
            RETURNING 1
        ),
        updated AS (
            UPDATE \(counters) c SET window_start = s.window_start, window_end = s.window_end, used = s.used + s.amount
            FROM seen s, verdict v
            WHERE v.rejected_at IS NULL AND s.present AND c.subject = s.subject AND c.quota = s.quota AND c.period = s.period
            RETURNING 1
        )
        SELECT s.used, v.rejected_at FROM seen s, verdict v ORDER BY s.position
        """
    }

    /// Returns the arguments of ``chargeSQL`` for `lines`.
    ///
    /// - Throws: ``PostgresQuotaStoreError`` with code `duplicateKey` when two lines name the
    ///   same counter, which one statement cannot lock and write twice.
    public static func chargeArguments(_ lines: [QuotaChargeLine]) throws -> [PostgresValue] {
        try requireDistinct(lines.map(\.key), operation: "charge")
        return [
            PostgresArray.text(lines.map(\.key.subject.storageKey)),
            PostgresArray.text(lines.map(\.key.quota)),
            PostgresArray.text(lines.map(\.key.period.rawValue)),
            PostgresArray.integers(lines.map(\.window.startMilliseconds)),
            PostgresArray.integers(lines.map(\.window.endMilliseconds)),
            PostgresArray.integers(lines.map { Int64($0.amount) }),
            PostgresArray.integers(lines.map { Int64($0.limit) }),
        ]
    }

    static func requireDistinct(_ keys: [QuotaCounterKey], operation: String) throws {
        var seen = Set<QuotaCounterKey>()
        for key in keys where !seen.insert(key).inserted {
            throw PostgresQuotaStoreError(
                .duplicateKey,
                "invalid \(operation): the counter \(key.subject.storageKey) \(key.quota) (\(key.period.rawValue)) appears twice; pass each counter once")
        }
    }

    public func charge(_ lines: [QuotaChargeLine]) async throws -> QuotaChargeOutcome {
        guard !lines.isEmpty else { return .charged(usedAfter: []) }
        let arguments = try Self.chargeArguments(lines)
        let rows = try await retryingConflicts(operation: "quota charge") {
            try await database.query(chargeSQL, arguments)
        }
        guard rows.count == lines.count else {
            throw PostgresError(
                .protocolViolation, operation: "quota charge",
                message: "the charge statement returned \(rows.count) rows for \(lines.count) lines")
        }
        let used = try rows.map { Int(try $0.integer("used")) }
        if let rejectedAt = try rows[0].optionalInteger("rejected_at") {
            let index = Int(rejectedAt) - 1
            return .rejected(lineIndex: index, used: used[index])
        }
        return .charged(usedAfter: zip(used, lines).map { $0 + $1.amount })
    }

    public func used(_ counters: [(key: QuotaCounterKey, window: QuotaWindow)]) async throws -> [Int] {
        guard !counters.isEmpty else { return [] }
        let rows = try await database.query(usedSQL, [
            PostgresArray.text(counters.map(\.key.subject.storageKey)),
            PostgresArray.text(counters.map(\.key.quota)),
            PostgresArray.text(counters.map(\.key.period.rawValue)),
            PostgresArray.integers(counters.map(\.window.startMilliseconds)),
        ])
        return try rows.map { Int(try $0.integer("used")) }
    }

    // MARK: - Refunds and gauges

    // The refund record is inserted first. Only when that insert happened (the charge was not
    // refunded before) does the statement lock the lines' counters in key order and subtract,
    // in the windows the charge was made in. A record whose keep-until instant has passed is
    // deleted by any later refund, except the record of the charge being refunded, so its
    // second refund still reports false.
    static func refundSQL(counters: String, refunds: String) -> String {
        """
        WITH expired AS (
            DELETE FROM \(refunds) WHERE keep_until <= $4 AND charge_id <> $1::uuid
        ),
        recorded AS (
            INSERT INTO \(refunds) (charge_id, tenant_id, keep_until) VALUES ($1::uuid, $2, $3)
            ON CONFLICT (charge_id) DO NOTHING RETURNING charge_id
        ),
        line AS (
            SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[], $10::int8[])
                AS l (subject, quota, period, window_start, window_end, amount)
        ),
        locked AS (
            SELECT c.subject FROM \(counters) c JOIN line l ON c.subject = l.subject AND c.quota = l.quota AND c.period = l.period
            WHERE EXISTS (SELECT 1 FROM recorded)
            ORDER BY c.subject, c.quota, c.period
            FOR UPDATE OF c
        ),
        refunded AS (
            UPDATE \(counters) c SET used = greatest(0, c.used - l.amount)
            FROM line l, (SELECT count(*) AS rows FROM locked) k
            WHERE k.rows > 0 AND c.subject = l.subject AND c.quota = l.quota AND c.period = l.period
                AND c.window_start = l.window_start AND c.window_end = l.window_end
            RETURNING 1
        )
        SELECT count(*) AS recorded FROM recorded
        """
    }

    public func refund(chargeID: UUID, tenantID: TenantID, lines: [QuotaChargeLine], keepUntil: Int64, now: Int64) async throws -> Bool {
        try Self.requireDistinct(lines.map(\.key), operation: "refund")
        let arguments: [PostgresValue] = [
            .text(chargeID.uuidString), .text(tenantID.rawValue), .integer(keepUntil), .integer(now),
            PostgresArray.text(lines.map(\.key.subject.storageKey)),
            PostgresArray.text(lines.map(\.key.quota)),
            PostgresArray.text(lines.map(\.key.period.rawValue)),
            PostgresArray.integers(lines.map(\.window.startMilliseconds)),
            PostgresArray.integers(lines.map(\.window.endMilliseconds)),
            PostgresArray.integers(lines.map { Int64($0.amount) }),
        ]
        let rows = try await retryingConflicts(operation: "quota refund") {
            try await database.query(refundSQL, arguments)
        }
        return try rows.first?.integer("recorded") == 1
    }

    public func decrement(_ key: QuotaCounterKey, by amount: Int) async throws -> Int {
        let rows = try await database.query(decrementSQL, Self.keyArguments(key) + [.integer(Int64(amount))])
        return Int(try rows.first?.integer("used") ?? 0)
    }

    static func keyArguments(_ key: QuotaCounterKey) -> [PostgresValue] {
        [.text(key.subject.storageKey), .text(key.quota), .text(key.period.rawValue)]
    }

    // MARK: - Leases

    // `stored` locks the key's row; `live` keeps its unexpired leases (an empty set when there
    // is no row). When fewer than the limit are live, the new lease is appended to them, in an
    // insert for a new row or an update that also drops the expired ones. Parameters: $1
    // subject, $2 quota, $3 now, $4 lease id, $5 expiry, $6 limit.
    static func acquireLeaseSQL(leases: String) -> String {
        """
        WITH stored AS (
            SELECT lease_ids, expires_at FROM \(leases) WHERE subject = $1 AND quota = $2 FOR UPDATE
        ),
        live AS (
            SELECT coalesce(array_agg(u.lease_id ORDER BY u.position), '{}') AS lease_ids,
                coalesce(array_agg(u.expires_at ORDER BY u.position), '{}') AS expires_at,
                count(u.lease_id) AS active,
                (SELECT count(*) FROM stored) > 0 AS present
            FROM stored s
            CROSS JOIN LATERAL unnest(s.lease_ids, s.expires_at) WITH ORDINALITY AS u (lease_id, expires_at, position)
            WHERE u.expires_at > $3
        ),
        inserted AS (
            INSERT INTO \(leases) (subject, quota, lease_ids, expires_at)
            SELECT $1, $2, ARRAY[$4::uuid], ARRAY[$5::int8] FROM live WHERE NOT live.present AND live.active < $6
            RETURNING 1
        ),
        updated AS (
            UPDATE \(leases) l SET lease_ids = live.lease_ids || $4::uuid, expires_at = live.expires_at || $5::int8
            FROM live WHERE l.subject = $1 AND l.quota = $2 AND live.present AND live.active < $6
            RETURNING 1
        )
        SELECT active, active < $6 AS acquired FROM live
        """
    }

    public func acquireLease(_ leaseID: UUID, key: QuotaCounterKey, limit: Int, now: Int64, expiresAt: Int64) async throws -> QuotaLeaseOutcome {
        let arguments: [PostgresValue] = [
            .text(key.subject.storageKey), .text(key.quota), .integer(now), .text(leaseID.uuidString), .integer(expiresAt),
            .integer(Int64(limit)),
        ]
        let rows = try await retryingConflicts(operation: "lease acquisition") {
            try await database.query(acquireLeaseSQL, arguments)
        }
        guard let row = rows.first else {
            throw PostgresError(.protocolViolation, operation: "lease acquisition", message: "the lease statement returned no row")
        }
        let active = Int(try row.integer("active"))
        return try row.boolean("acquired") ? .acquired(active: active + 1) : .rejected(active: active)
    }

    public func releaseLease(_ leaseID: UUID, key: QuotaCounterKey) async throws -> Bool {
        try await database.execute(releaseLeaseSQL, [.text(key.subject.storageKey), .text(key.quota), .text(leaseID.uuidString)]) == 1
    }

    public func activeLeases(_ key: QuotaCounterKey, now: Int64) async throws -> Int {
        let rows = try await database.query(activeLeasesSQL, [.text(key.subject.storageKey), .text(key.quota), .integer(now)])
        return Int(try rows.first?.integer("active") ?? 0)
    }

    // MARK: - Removal

    public func reset(_ subject: QuotaSubject, quota: String?) async throws -> Int {
        let rows = try await retryingConflicts(operation: "quota reset") {
            try await database.query(resetSQL, [.text(subject.storageKey), quota.map { .text($0) } ?? .null])
        }
        return Int(try rows.first?.integer("removed") ?? 0)
    }

    public func purge(_ tenantID: TenantID) async throws -> Int {
        let rows = try await retryingConflicts(operation: "quota purge") {
            try await database.query(purgeSQL, [.text(QuotaSubject.tenant(tenantID).storageKey), .text(tenantID.rawValue)])
        }
        return Int(try rows.first?.integer("removed") ?? 0)
    }
}
