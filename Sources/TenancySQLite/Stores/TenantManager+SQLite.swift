public import Tenancy

extension TenantManager {
    /// Creates a manager whose registry, audit trail and deletion jobs live in `database`.
    ///
    /// Every process that opens the same file shares the registry; register the same purgers
    /// in each, so any of them can resume an interrupted deletion.
    public static func sqlite(
        _ database: SQLiteDatabase,
        clock: any TenancyClock = SystemClock(),
        retentionPeriod: Duration = .seconds(30 * 86_400),
        purgers: [any TenantPurger] = [],
        logger: TenancyLogger = .disabled
    ) async throws -> TenantManager {
        TenantManager(
            store: try await SQLiteTenantStore(database: database),
            audit: try await SQLiteAuditStore(database: database),
            purgeJobs: try await SQLitePurgeJobStore(database: database),
            clock: clock, retentionPeriod: retentionPeriod, purgers: purgers, logger: logger)
    }
}
