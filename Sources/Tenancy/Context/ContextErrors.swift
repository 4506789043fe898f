/// No tenant is bound to the current task, and the call needs one.
public struct NoTenantInScopeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The operation that needed a tenant.
    public let operation: String

    public init(operation: String) {
        self.operation = operation
    }

    public var description: String {
        "no tenant in scope for \(operation): enter one with manager.withTenant(id) or TenantContext.withTenant(tenant)"
    }
}

/// The code tried to enter a tenant's scope while another tenant's scope is bound.
public struct CrossTenantAccessError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The tenant whose scope is bound.
    public let currentTenantID: TenantID
    /// The tenant the code tried to enter.
    public let requestedTenantID: TenantID

    public init(currentTenantID: TenantID, requestedTenantID: TenantID) {
        self.currentTenantID = currentTenantID
        self.requestedTenantID = requestedTenantID
    }

    public var description: String {
        "cannot enter tenant '\(requestedTenantID)' inside the scope of tenant '\(currentTenantID)': "
            + "use manager.withCrossTenantAccess(to:reason:), which records an audit entry"
    }
}
