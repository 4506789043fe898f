/// The tenant, and the principal, that the current task works for.
///
/// One task-local value carries the context through `async let`, task groups and `Task {}`.
/// It does not flow into `Task.detached`, Dispatch queues, threads or C callbacks: capture it
/// with ``capture()`` and rebind it there. Everyone can read the context; only the library's
/// scope functions can set it.
public struct TenantContext: Sendable {
    /// The way the current scope was entered.
    public enum Entry: Hashable, Sendable {
        /// `withTenant`: ordinary tenant work.
        case tenant
        /// `manager.withCrossTenantAccess(to:reason:)`, audited.
        case crossTenant(reason: String)
        /// `manager.withPlatformScope(reason:)`: no tenant on purpose, audited.
        case platform(reason: String)
    }

    /// The bound tenant snapshot; nil in the platform scope.
    public let tenant: Tenant?
    /// The principal the work acts for, if one is known.
    public let principal: Principal?
    /// The way the scope was entered.
    public let entry: Entry

    @TaskLocal static var bound: TenantContext?

    /// The context bound to the current task, or nil outside every scope.
    public static var current: TenantContext? { bound }

    /// Whether the current task runs in the platform scope.
    public static var isPlatformScope: Bool {
        if case .platform = bound?.entry { return true }
        return false
    }

    /// Binds an already loaded tenant for the duration of `body` and hands it to the closure.
    ///
    /// The tenant's status snapshot must admit a scope (`trial` or `active`). Entering the
    /// tenant already bound is allowed and keeps the outer principal unless one is given.
    /// Entering a different tenant throws; cross-tenant work goes through
    /// ``TenantManager/withCrossTenantAccess(to:reason:principal:isolation:_:)``.
    ///
    /// - Throws: ``TenantSuspendedError`` or ``TenantUnavailableError`` for a status that does
    ///   not admit a scope, ``CrossTenantAccessError`` for a different tenant, and whatever
    ///   `body` throws.
    public static func withTenant<Result>(
        _ tenant: Tenant,
        principal: Principal? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Tenant) async throws -> Result
    ) async throws -> Result {
        let context = try enteringContext(for: tenant, principal: principal, entry: .tenant)
        return try await $bound.withValue(context, operation: { try await body(tenant) }, isolation: isolation)
    }

    /// Builds the context for entering `tenant`, checking its status and the bound scope.
    static func enteringContext(for tenant: Tenant, principal: Principal?, entry: Entry) throws -> TenantContext {
        try checkAdmitsScope(tenant)
        let outer = bound
        if case .tenant = entry, let outerTenant = outer?.tenant, outerTenant.id != tenant.id {
            throw CrossTenantAccessError(currentTenantID: outerTenant.id, requestedTenantID: tenant.id)
        }
        let keptPrincipal = principal ?? (outer?.tenant?.id == tenant.id ? outer?.principal : nil)
        return TenantContext(tenant: tenant, principal: keptPrincipal, entry: entry)
    }

    /// Binds `context` for the duration of `body`; the library's scope functions call it after
    /// their checks.
    static func withBound<Result>(
        _ context: TenantContext,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async throws -> Result {
        try await $bound.withValue(context, operation: body, isolation: isolation)
    }

    /// Throws the typed error for a status that does not admit a scope.
    static func checkAdmitsScope(_ tenant: Tenant) throws {
        switch tenant.status {
        case .trial, .active:
            return
        case .suspended:
            throw TenantSuspendedError(tenantID: tenant.id, reason: tenant.suspensionReason)
        default:
            throw TenantUnavailableError(tenantID: tenant.id, status: tenant.status)
        }
    }

    /// Captures the current context so work that leaves structured concurrency (a detached
    /// task, a Dispatch queue, a thread) can rebind it.
    public static func capture() -> CapturedTenantContext {
        CapturedTenantContext(context: bound)
    }
}

/// A context captured with ``TenantContext/capture()``, to rebind where task-locals do not flow.
///
/// Background work that runs later (a job queue, a timer) should carry the tenant id instead
/// and re-enter with `manager.withTenant(id)`, which checks the tenant's current status.
public struct CapturedTenantContext: Sendable {
    /// The captured context; nil when no scope was bound at capture.
    public let context: TenantContext?

    /// Runs synchronous `body` with the captured context bound, for Dispatch and thread code.
    ///
    /// - Throws: ``CrossTenantAccessError`` when a different tenant is bound where it runs,
    ///   ``PlatformScopeDeniedError`` when a captured platform scope meets a bound tenant.
    public func withValue<Result>(_ body: () throws -> Result) throws -> Result {
        try checkNoOtherTenant()
        return try TenantContext.$bound.withValue(context, operation: body)
    }

    /// Runs `body` with the captured context bound, for detached tasks.
    ///
    /// - Throws: ``CrossTenantAccessError`` when a different tenant is bound where it runs,
    ///   ``PlatformScopeDeniedError`` when a captured platform scope meets a bound tenant.
    public func withValue<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async throws -> Result {
        try checkNoOtherTenant()
        return try await TenantContext.$bound.withValue(context, operation: body, isolation: isolation)
    }

    /// Rejects rebinding over another tenant's scope, and rebinding a captured platform scope
    /// inside any tenant scope, which ``TenantManager/withPlatformScope(reason:principal:isolation:_:)``
    /// rejects too.
    private func checkNoOtherTenant() throws {
        guard let bound = TenantContext.bound?.tenant else { return }
        if let captured = context?.tenant, bound.id != captured.id {
            throw CrossTenantAccessError(currentTenantID: bound.id, requestedTenantID: captured.id)
        }
        if case .platform = context?.entry {
            throw PlatformScopeDeniedError(currentTenantID: bound.id)
        }
    }
}

/// Returns the tenant bound to the current task, or nil outside every tenant scope.
public func currentTenant() -> Tenant? {
    TenantContext.bound?.tenant
}

/// Returns the tenant bound to the current task.
///
/// - Throws: ``NoTenantInScopeError`` when none is bound (including the platform scope).
public func requireCurrentTenant(operation: String = #function) throws -> Tenant {
    guard let tenant = TenantContext.bound?.tenant else {
        throw NoTenantInScopeError(operation: operation)
    }
    return tenant
}

/// Returns the principal bound to the current task, if any.
public func currentPrincipal() -> Principal? {
    TenantContext.bound?.principal
}

/// Returns the id of the tenant bound to the current task, or nil outside every tenant scope.
///
/// Cheaper than ``currentTenant()`` on hot paths (keys, bindings), because it copies one
/// string instead of the whole snapshot.
public func currentTenantID() -> TenantID? {
    TenantContext.bound?.tenant?.id
}

extension TenantContext: CustomStringConvertible {
    /// The tenant id, the principal and how the scope was entered; no personal data.
    public var description: String {
        let tenantText = tenant.map { "\($0.id)" } ?? "none"
        return "TenantContext(tenant: \(tenantText), principal: \(principal.map { "\($0)" } ?? "none"), entry: \(entry))"
    }
}
