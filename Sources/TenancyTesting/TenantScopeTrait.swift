public import Tenancy
public import Testing

/// A trait that runs a test, or every test of a suite, inside a tenant's scope.
///
/// `@Test(.tenant(acme))` runs the test body inside `TenantContext.withTenant(acme)`, so
/// `currentTenant()` returns `acme` in it. The tenant's status must be `trial` or `active`:
/// otherwise the test fails with the error `withTenant` throws.
public struct TenantScopeTrait: TestTrait, SuiteTrait, TestScoping {
    /// The tenant bound around the test.
    public let tenant: Tenant
    /// The principal bound with it, if any.
    public let principal: Principal?

    public init(tenant: Tenant, principal: Principal? = nil) {
        self.tenant = tenant
        self.principal = principal
    }

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        try await TenantContext.withTenant(tenant, principal: principal) { _ in
            try await function()
        }
    }
}

extension Trait where Self == TenantScopeTrait {
    /// Runs the test inside the scope of `tenant`, optionally acting for `principal`.
    public static func tenant(_ tenant: Tenant, principal: Principal? = nil) -> Self {
        TenantScopeTrait(tenant: tenant, principal: principal)
    }
}
