/// The tables of quota counters, refunds, leases and rate-limit state.
///
/// Instants are integer milliseconds since 1970, except rate-limit TATs, which are integer
/// nanoseconds. Each subject is stored as ``QuotaSubject/storageKey``.
enum SQLiteQuotaSchema {
    static let quotaComponent = "quotas"
    static let rateLimitComponent = "rate-limits"

    static let quotaMigrations: [SQLiteMigration] = [
        SQLiteMigration(version: 1, name: "create quota counters, refunds and leases", sql: """
            CREATE TABLE tenancy_quota_counters (
                subject TEXT NOT NULL,
                quota TEXT NOT NULL,
                period TEXT NOT NULL,
                window_start INTEGER NOT NULL,
                window_end INTEGER NOT NULL,
                used INTEGER NOT NULL CHECK (used >= 0),
                PRIMARY KEY (subject, quota, period)
            ) WITHOUT ROWID;

            CREATE TABLE tenancy_quota_refunds (
                charge_id TEXT PRIMARY KEY NOT NULL,
                tenant_id TEXT NOT NULL,
                keep_until INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX tenancy_quota_refunds_by_tenant ON tenancy_quota_refunds (tenant_id);
            CREATE INDEX tenancy_quota_refunds_by_expiry ON tenancy_quota_refunds (keep_until);

            CREATE TABLE tenancy_quota_leases (
                subject TEXT NOT NULL,
                quota TEXT NOT NULL,
                lease_id TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                PRIMARY KEY (subject, quota, lease_id)
            ) WITHOUT ROWID;
            """),
    ]

    static let rateLimitMigrations: [SQLiteMigration] = [
        SQLiteMigration(version: 1, name: "create rate-limit buckets", sql: """
            CREATE TABLE tenancy_rate_limits (
                subject TEXT NOT NULL,
                key TEXT NOT NULL,
                tat INTEGER NOT NULL,
                PRIMARY KEY (subject, key)
            ) WITHOUT ROWID;
            """),
    ]
}
