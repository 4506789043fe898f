extension TenantManager {
    /// Loads a tenant, checks that its status admits a scope, binds it for the duration of
    /// `body` and hands it to the closure.
    ///
    /// - Throws: ``TenantNotFoundError``, ``TenantSuspendedError`` (with the reason),
    ///   ``TenantUnavailableError`` for the other statuses that are not `trial` or `active`,
    ///   ``CrossTenantAccessError`` inside a different tenant's scope, and whatever `body` throws.
    public func withTenant<Result>(
        _ id: TenantID,
        principal: Principal? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Tenant) async throws -> Result
    ) async throws -> Result {
        let tenant = try await tenant(id)
        return try await TenantContext.withTenant(tenant, principal: principal, isolation: isolation, body)
    }

    /// Binds another tenant's scope from inside a tenant scope (or outside one) for support and
    /// platform work, and records an audit entry naming both tenants and the reason.
    ///
    /// - Parameter reason: why the access is needed, recorded in the audit trail (no personal
    ///   data).
    /// - Throws: ``ValidationError`` for an invalid reason, ``TenantNotFoundError``, the status
    ///   errors of ``withTenant(_:principal:isolation:_:)``, and whatever `body` throws.
    public func withCrossTenantAccess<Result>(
        to id: TenantID,
        reason: String,
        principal: Principal? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Tenant) async throws -> Result
    ) async throws -> Result {
        let reason = try InputRules.validatedReason(reason)
        let from = TenantContext.bound?.tenant?.id.rawValue ?? "none"
        let target = try await tenant(id)
        let context: TenantContext
        do {
            context = try TenantContext.enteringContext(for: target, principal: principal, entry: .crossTenant(reason: reason))
        } catch {
            await recordRefusal(.crossTenantAccess, tenant: id, outcome: .denied, detail: "from=\(from) status=\(target.status)")
            throw error
        }
        try await record(.crossTenantAccess, tenant: id, detail: "from=\(from); reason: \(reason)")
        return try await TenantContext.withBound(context, isolation: isolation) { try await body(target) }
    }

    /// Runs `body` with no tenant on purpose (migrations, operator reports), audited.
    ///
    /// Inside it, ``currentTenant()`` is nil and ``TenantContext/isPlatformScope`` is true; the
    /// backends use it to let the library's own platform statements through. Tenant SQL cannot
    /// reach it.
    ///
    /// - Throws: ``PlatformScopeDeniedError`` inside a tenant scope, ``ValidationError`` for an
    ///   invalid reason, and whatever `body` throws.
    public func withPlatformScope<Result>(
        reason: String,
        principal: Principal? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async throws -> Result {
        let reason = try InputRules.validatedReason(reason)
        if let current = TenantContext.bound?.tenant {
            await recordRefusal(.platformScope, tenant: current.id, outcome: .denied, detail: "inside a tenant scope")
            throw PlatformScopeDeniedError(currentTenantID: current.id)
        }
        let context = TenantContext(tenant: nil, principal: principal ?? currentPrincipal(), entry: .platform(reason: reason))
        try await TenantContext.withBound(context, isolation: isolation) {
            try await record(.platformScope, tenant: nil, detail: "reason: \(reason)")
        }
        return try await TenantContext.withBound(context, isolation: isolation, body)
    }
}
