public import Tenancy

extension TenantManager {
    /// Creates a manager whose registry, audit trail and deletion jobs live in PostgreSQL.
    ///
    /// `database` is the application role's pool. The schema must be installed first with
    /// ``PostgresRegistrySchema/install(owner:applicationRole:)`` (owner role). Every process
    /// connected to the same database shares the registry; register the same purgers in each,
    /// so any of them can resume an interrupted deletion.
    public static func postgres(
        _ database: PostgresDatabase,
        schema: PostgresRegistrySchema,
        clock: any TenancyClock = SystemClock(),
        retentionPeriod: Duration = .seconds(30 * 86_400),
        purgers: [any TenantPurger] = [],
        logger: TenancyLogger = .disabled
    ) async throws -> TenantManager {
        TenantManager(
            store: try await PostgresTenantStore(database: database, schema: schema),
            audit: try await PostgresAuditStore(database: database, schema: schema),
            purgeJobs: try await PostgresPurgeJobStore(database: database, schema: schema),
            clock: clock, retentionPeriod: retentionPeriod, purgers: purgers, logger: logger)
    }
}
