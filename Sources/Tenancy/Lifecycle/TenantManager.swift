import Foundation
import Synchronization

/// The tenant registry's front door: validates every input, applies the lifecycle, writes the
/// audit trail, publishes events and binds tenant scopes.
///
/// The manager keeps no tenant state of its own; every decision reads the store, so several
/// managers (in one process or many) can share one store.
public final class TenantManager: Sendable {
    /// The tenant registry.
    public let store: any TenantStore
    /// The append-only audit trail.
    public let audit: any AuditStore
    /// Progress of deletions with purge.
    public let purgeJobs: any PurgeJobStore
    /// The time source for timestamps and retention.
    public let clock: any TenancyClock
    /// How long a cancelled tenant can be restored before `purgeExpired()` purges it.
    public let retentionPeriod: Duration

    let logger: TenancyLogger
    let purgers: Mutex<[any TenantPurger]>
    let subscribers = Mutex<[UUID: AsyncStream<TenantEvent>.Continuation]>([:])

    /// The number of attempts to find a free id when deriving one from a name.
    static let derivedIDAttempts = 16

    /// Creates a manager over the given stores. With no arguments everything is in memory, for
    /// tests and single-process use.
    ///
    /// - Parameters:
    ///   - retentionPeriod: how long a cancelled tenant stays restorable; 30 days by default.
    ///   - purgers: data purgers, run in order before the registry erases the tenant's record.
    public init(
        store: any TenantStore = InMemoryTenantStore(),
        audit: any AuditStore = InMemoryAuditStore(),
        purgeJobs: any PurgeJobStore = InMemoryPurgeJobStore(),
        clock: any TenancyClock = SystemClock(),
        retentionPeriod: Duration = .seconds(30 * 86_400),
        purgers: [any TenantPurger] = [],
        logger: TenancyLogger = .disabled
    ) {
        precondition(retentionPeriod >= .zero, "the retention period must not be negative")
        self.store = store
        self.audit = audit
        self.purgeJobs = purgeJobs
        self.clock = clock
        self.retentionPeriod = retentionPeriod
        self.purgers = Mutex(purgers)
        self.logger = logger
        Self.checkUniqueNames(purgers)
        FaultInjection.validatePlan()
    }

    /// Adds a purger; purgers run in registration order, and the registry's own runs last.
    ///
    /// Register the same purgers in every process that may resume a deletion.
    public func register(_ purger: any TenantPurger) {
        purgers.withLock { purgers in
            purgers.append(purger)
            Self.checkUniqueNames(purgers)
        }
    }

    private static func checkUniqueNames(_ purgers: [any TenantPurger]) {
        let names = purgers.map(\.name) + ["registry"]
        precondition(Set(names).count == names.count, "purger names must be unique and not 'registry': \(names)")
    }

    // MARK: - Creating and reading

    /// Creates a tenant and returns it.
    ///
    /// Without `id`, the id is derived from the name (see ``TenantID/derived(fromName:)``); a
    /// reserved or taken id gets a random 4-character suffix, so two tenants with the same name
    /// get distinct ids, also when created at the same time by different processes.
    ///
    /// - Parameters:
    ///   - status: the initial status: `active` (default), `trial` or `pending`.
    ///   - timeZone: an IANA identifier; quota windows follow it.
    /// - Throws: ``ValidationError`` for an invalid name, e-mail, time zone, status, metadata or
    ///   config; ``TenantAlreadyExistsError`` when an explicit `id` is taken.
    @discardableResult
    public func createTenant(
        name: String,
        tier: TenantTier,
        adminEmail: String,
        id: TenantID? = nil,
        status: TenantStatus = .active,
        timeZone: String = "UTC",
        config: TenantConfig = TenantConfig(),
        metadata: [String: String] = [:]
    ) async throws -> Tenant {
        let name = try InputRules.validatedName(name)
        let adminEmail = try InputRules.validatedEmail(adminEmail)
        let timeZone = try InputRules.validatedTimeZone(timeZone)
        try InputRules.validateMetadata(metadata)
        try config.validate()
        guard [.active, .trial, .pending].contains(status) else {
            throw ValidationError(
                .invalidArgument, field: "status",
                message: "invalid initial status \(status): expected active, trial or pending")
        }

        let now = clock.now().truncatedToMilliseconds
        func tenant(with id: TenantID) -> Tenant {
            Tenant(
                id: id, name: name, tier: tier, status: status, config: config, adminEmail: adminEmail,
                timeZone: timeZone, createdAt: now, metadata: metadata)
        }

        let created: Tenant
        if let id {
            created = tenant(with: id)
            try await store.insert(created)
        } else {
            created = try await insertWithDerivedID(name: name, make: tenant(with:))
        }

        try await record(.tenantCreated, tenant: created.id, detail: "tier=\(tier) status=\(status)")
        publish(.created(created))
        logger.info("tenant created", ["tenant.id": created.id.rawValue, "tenant.tier": tier.rawValue])
        return created
    }

    private func insertWithDerivedID(name: String, make: (TenantID) -> Tenant) async throws -> Tenant {
        let base = try TenantID.derived(fromName: name)
        var candidate = TenantID.reservedWords.contains(base.rawValue) ? base.withRandomSuffix() : base
        for _ in 0..<Self.derivedIDAttempts {
            let tenant = make(candidate)
            do {
                try await store.insert(tenant)
                return tenant
            } catch is TenantAlreadyExistsError {
                candidate = base.withRandomSuffix()
            }
        }
        throw ValidationError(
            .invalidTenantID, field: "name",
            message: "could not find a free tenant id for this name after \(Self.derivedIDAttempts) attempts; pass an explicit id")
    }

    /// Returns the tenant with this id, whatever its status.
    ///
    /// - Throws: ``TenantNotFoundError``.
    public func tenant(_ id: TenantID) async throws -> Tenant {
        guard let tenant = try await store.tenant(id) else { throw TenantNotFoundError(tenantID: id) }
        return tenant
    }

    /// Returns one page of tenants ordered by id, optionally filtered by status and tier.
    ///
    /// - Parameters:
    ///   - after: the `nextCursor` of the previous page.
    ///   - limit: the page size, 1 to 1,000.
    public func listTenants(
        status: TenantStatus? = nil, tier: TenantTier? = nil, after: TenantID? = nil, limit: Int = 100
    ) async throws -> TenantPage {
        let query = TenantQuery(status: status, tier: tier, after: after, limit: limit)
        try query.validate()
        return try await store.list(query)
    }

    /// Returns audit records oldest first, optionally of one tenant.
    public func auditRecords(tenantID: TenantID? = nil, afterSequence: Int64? = nil, limit: Int = 100) async throws -> [AuditRecord] {
        let query = AuditQuery(tenantID: tenantID, afterSequence: afterSequence, limit: limit)
        try query.validate()
        return try await audit.records(query)
    }

    // MARK: - Events and audit

    /// Returns a stream of lifecycle events stored from now on.
    ///
    /// Each subscriber gets its own stream, buffering the newest 1,024 events it has not read;
    /// the subscription ends when the stream is dropped or its consumer is cancelled.
    public func events() -> AsyncStream<TenantEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: TenantEvent.self, bufferingPolicy: .bufferingNewest(1_024))
        let key = UUID()
        subscribers.withLock { $0[key] = continuation }
        continuation.onTermination = { [weak self] _ in
            self?.subscribers.withLock { _ = $0.removeValue(forKey: key) }
        }
        return stream
    }

    func publish(_ event: TenantEvent) {
        let continuations = subscribers.withLock { Array($0.values) }
        for continuation in continuations {
            continuation.yield(event)
        }
    }

    func record(_ action: AuditAction, tenant: TenantID?, outcome: AuditOutcome = .success, detail: String? = nil) async throws {
        let record = AuditRecord(
            time: clock.now().truncatedToMilliseconds, tenantID: tenant, principalID: currentPrincipal()?.id,
            action: action, outcome: outcome, detail: detail)
        try await audit.append(record)
    }

    /// Records a denied or failed attempt; a failure to record it is logged, and the caller
    /// still gets the original error.
    func recordRefusal(_ action: AuditAction, tenant: TenantID?, outcome: AuditOutcome, detail: String) async {
        do {
            try await record(action, tenant: tenant, outcome: outcome, detail: detail)
        } catch {
            logger.error("audit record failed", ["audit.action": action.rawValue, "error": "\(error)"])
        }
    }
}
