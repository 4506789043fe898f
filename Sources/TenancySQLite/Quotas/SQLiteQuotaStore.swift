public import Foundation
public import Tenancy

/// Quota counters, refunds and leases in an SQLite file, exact across every process that
/// opens the file.
///
/// Each decision is one `BEGIN IMMEDIATE` transaction on the writer, so it holds the file's
/// write lock from its first read to its commit and no other decision interleaves.
public final class SQLiteQuotaStore: QuotaStore {
    let database: SQLiteDatabase

    /// Opens the quota tables in `database`, creating or migrating them.
    public init(database: SQLiteDatabase) async throws {
        self.database = database
        try await database.migrate(component: SQLiteQuotaSchema.quotaComponent, SQLiteQuotaSchema.quotaMigrations)
    }

    static let selectCounter = """
        SELECT window_start, window_end, used FROM tenancy_quota_counters WHERE subject = ? AND quota = ? AND period = ?
        """

    static func keyArguments(_ key: QuotaCounterKey) -> [SQLiteValue] {
        [.text(key.subject.storageKey), .text(key.quota), .text(key.period.rawValue)]
    }

    static func counter(_ connection: isolated SQLiteConnection, _ key: QuotaCounterKey) throws -> StoredQuotaCounter? {
        guard let row = try connection.query(selectCounter, keyArguments(key)).first else { return nil }
        let window = QuotaWindow(startMilliseconds: try row.integer("window_start"), endMilliseconds: try row.integer("window_end"))
        return StoredQuotaCounter(window: window, used: Int(try row.integer("used")))
    }

    static func store(_ connection: isolated SQLiteConnection, _ key: QuotaCounterKey, _ counter: StoredQuotaCounter) throws {
        try connection.execute(
            """
            INSERT INTO tenancy_quota_counters (subject, quota, period, window_start, window_end, used) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (subject, quota, period) DO UPDATE SET
                window_start = excluded.window_start, window_end = excluded.window_end, used = excluded.used
            """,
            keyArguments(key) + [
                .integer(counter.window.startMilliseconds), .integer(counter.window.endMilliseconds), .integer(Int64(counter.used)),
            ])
    }

    public func charge(_ lines: [QuotaChargeLine]) async throws -> QuotaChargeOutcome {
        try await database.write { connection in
            var updated: [StoredQuotaCounter] = []
            for (index, line) in lines.enumerated() {
                let stored = try Self.counter(connection, line.key) ?? StoredQuotaCounter(window: line.window, used: 0)
                let current = stored.seen(in: line.window)
                if current.used > line.limit - line.amount {
                    return .rejected(lineIndex: index, used: current.used)
                }
                updated.append(StoredQuotaCounter(window: current.window, used: current.used + line.amount))
            }
            for (line, counter) in zip(lines, updated) {
                try Self.store(connection, line.key, counter)
            }
            return .charged(usedAfter: updated.map(\.used))
        }
    }

    public func used(_ counters: [(key: QuotaCounterKey, window: QuotaWindow)]) async throws -> [Int] {
        let requests = counters.map { ($0.key, $0.window) }
        return try await database.readTransaction { connection in
            try requests.map { key, window in
                try Self.counter(connection, key)?.seen(in: window).used ?? 0
            }
        }
    }

    public func refund(chargeID: UUID, tenantID: TenantID, lines: [QuotaChargeLine], keepUntil: Int64, now: Int64) async throws -> Bool {
        try await database.write { connection in
            try connection.execute("DELETE FROM tenancy_quota_refunds WHERE keep_until <= ?", [.integer(now)])
            let inserted = try connection.execute(
                "INSERT INTO tenancy_quota_refunds (charge_id, tenant_id, keep_until) VALUES (?, ?, ?) ON CONFLICT (charge_id) DO NOTHING",
                [.text(chargeID.uuidString), .text(tenantID.rawValue), .integer(keepUntil)])
            guard inserted == 1 else { return false }
            for line in lines {
                try connection.execute(
                    """
                    UPDATE tenancy_quota_counters SET used = max(0, used - ?)
                    WHERE subject = ? AND quota = ? AND period = ? AND window_start = ? AND window_end = ?
                    """,
                    [.integer(Int64(line.amount))] + Self.keyArguments(line.key)
                        + [.integer(line.window.startMilliseconds), .integer(line.window.endMilliseconds)])
            }
            return true
        }
    }

    public func decrement(_ key: QuotaCounterKey, by amount: Int) async throws -> Int {
        try await database.write { connection in
            try connection.execute(
                "UPDATE tenancy_quota_counters SET used = max(0, used - ?) WHERE subject = ? AND quota = ? AND period = ?",
                [.integer(Int64(amount))] + Self.keyArguments(key))
            return try Self.counter(connection, key)?.used ?? 0
        }
    }

    public func acquireLease(_ leaseID: UUID, key: QuotaCounterKey, limit: Int, now: Int64, expiresAt: Int64) async throws -> QuotaLeaseOutcome {
        let owner: [SQLiteValue] = [.text(key.subject.storageKey), .text(key.quota)]
        return try await database.write { connection in
            try connection.execute(
                "DELETE FROM tenancy_quota_leases WHERE subject = ? AND quota = ? AND expires_at <= ?", owner + [.integer(now)])
            let active = Int(try connection.query(
                "SELECT count(*) AS n FROM tenancy_quota_leases WHERE subject = ? AND quota = ?", owner).first?.integer("n") ?? 0)
            guard active < limit else { return .rejected(active: active) }
            try connection.execute(
                "INSERT INTO tenancy_quota_leases (subject, quota, lease_id, expires_at) VALUES (?, ?, ?, ?)",
                owner + [.text(leaseID.uuidString), .integer(expiresAt)])
            return .acquired(active: active + 1)
        }
    }

    public func releaseLease(_ leaseID: UUID, key: QuotaCounterKey) async throws -> Bool {
        try await database.write { connection in
            try connection.execute(
                "DELETE FROM tenancy_quota_leases WHERE subject = ? AND quota = ? AND lease_id = ?",
                [.text(key.subject.storageKey), .text(key.quota), .text(leaseID.uuidString)]) == 1
        }
    }

    public func activeLeases(_ key: QuotaCounterKey, now: Int64) async throws -> Int {
        try await database.read { connection in
            Int(try connection.query(
                "SELECT count(*) AS n FROM tenancy_quota_leases WHERE subject = ? AND quota = ? AND expires_at > ?",
                [.text(key.subject.storageKey), .text(key.quota), .integer(now)]).first?.integer("n") ?? 0)
        }
    }

    public func reset(_ subject: QuotaSubject, quota: String?) async throws -> Int {
        try await database.write { connection in
            if let quota {
                let arguments: [SQLiteValue] = [.text(subject.storageKey), .text(quota)]
                return try connection.execute("DELETE FROM tenancy_quota_counters WHERE subject = ? AND quota = ?", arguments)
                    + connection.execute("DELETE FROM tenancy_quota_leases WHERE subject = ? AND quota = ?", arguments)
            }
            let arguments: [SQLiteValue] = [.text(subject.storageKey)]
            return try connection.execute("DELETE FROM tenancy_quota_counters WHERE subject = ?", arguments)
                + connection.execute("DELETE FROM tenancy_quota_leases WHERE subject = ?", arguments)
        }
    }

    public func purge(_ tenantID: TenantID) async throws -> Int {
        try await database.write { connection in
            let subject: [SQLiteValue] = [.text(QuotaSubject.tenant(tenantID).storageKey)]
            return try connection.execute("DELETE FROM tenancy_quota_counters WHERE subject = ?", subject)
                + connection.execute("DELETE FROM tenancy_quota_leases WHERE subject = ?", subject)
                + connection.execute("DELETE FROM tenancy_quota_refunds WHERE tenant_id = ?", [.text(tenantID.rawValue)])
        }
    }
}
