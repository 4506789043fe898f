/// No tenant with this id exists in the registry.
public struct TenantNotFoundError: Error, Hashable, Sendable, CustomStringConvertible {
    public let tenantID: TenantID

    public init(tenantID: TenantID) {
        self.tenantID = tenantID
    }

    public var description: String { "tenant '\(tenantID)' not found" }
}

/// The tenant is suspended, so it cannot enter a scope.
public struct TenantSuspendedError: Error, Hashable, Sendable, CustomStringConvertible {
    public let tenantID: TenantID
    /// The reason given when it was suspended, if any.
    public let reason: String?

    public init(tenantID: TenantID, reason: String?) {
        self.tenantID = tenantID
        self.reason = reason
    }

    public var description: String {
        "tenant '\(tenantID)' is suspended" + (reason.map { " (\($0))" } ?? "")
            + ": reactivate it with manager.updateStatus(id, to: .active) or `tenancy activate \(tenantID)`"
    }
}

/// The tenant's status (other than `suspended`) does not admit a scope: only `trial` and
/// `active` tenants may enter one.
public struct TenantUnavailableError: Error, Hashable, Sendable, CustomStringConvertible {
    public let tenantID: TenantID
    public let status: TenantStatus

    public init(tenantID: TenantID, status: TenantStatus) {
        self.tenantID = tenantID
        self.status = status
    }

    public var description: String {
        "tenant '\(tenantID)' is \(status) and cannot enter a scope: only trial and active tenants can"
    }
}

/// The lifecycle does not allow this status change; nothing was changed.
public struct InvalidTransitionError: Error, Hashable, Sendable, CustomStringConvertible {
    public let tenantID: TenantID
    public let from: TenantStatus
    public let to: TenantStatus
    /// Why the change is refused, when more than the transition table is involved.
    public let detail: String?

    public init(tenantID: TenantID, from: TenantStatus, to: TenantStatus, detail: String? = nil) {
        self.tenantID = tenantID
        self.from = from
        self.to = to
        self.detail = detail
    }

    public var description: String {
        let allowed = TenantStatus.allowedTransitions[from, default: []].map(\.rawValue).sorted()
        let base = "invalid transition of tenant '\(tenantID)' from \(from) to \(to)"
        if let detail { return base + ": " + detail }
        return base + (allowed.isEmpty ? ": \(from) is final" : ": allowed from \(from): \(allowed.joined(separator: ", "))")
    }
}

/// A tenant with this id already exists.
public struct TenantAlreadyExistsError: Error, Hashable, Sendable, CustomStringConvertible {
    public let tenantID: TenantID

    public init(tenantID: TenantID) {
        self.tenantID = tenantID
    }

    public var description: String { "tenant '\(tenantID)' already exists: choose another id" }
}

/// A registered purger failed; the deletion job stays in `deleting` and resumes from this
/// purger when `deleteTenant(_:purgeData: true)` or `resumeInterruptedDeletions()` runs again.
public struct PurgeFailedError: Error, Sendable, CustomStringConvertible {
    public let tenantID: TenantID
    /// The name of the purger that failed.
    public let purger: String
    /// The error the purger threw.
    public let underlying: any Error

    public init(tenantID: TenantID, purger: String, underlying: any Error) {
        self.tenantID = tenantID
        self.purger = purger
        self.underlying = underlying
    }

    public var description: String {
        "purge of tenant '\(tenantID)' failed in purger '\(purger)': \(underlying); "
            + "run the deletion again to resume from this purger"
    }
}

/// The operation is not possible in the tenant's current status (for example a tier change
/// on a deleted tenant); nothing was changed.
public struct TenantStateError: Error, Hashable, Sendable, CustomStringConvertible {
    public let tenantID: TenantID
    public let status: TenantStatus
    /// The refused operation, such as `change the tier`.
    public let operation: String

    public init(tenantID: TenantID, status: TenantStatus, operation: String) {
        self.tenantID = tenantID
        self.status = status
        self.operation = operation
    }

    public var description: String {
        "cannot \(operation) of tenant '\(tenantID)': it is \(status)"
    }
}

/// Platform-scope work was requested inside a tenant's scope, which would let tenant code
/// escape its tenant.
public struct PlatformScopeDeniedError: Error, Hashable, Sendable, CustomStringConvertible {
    public let currentTenantID: TenantID

    public init(currentTenantID: TenantID) {
        self.currentTenantID = currentTenantID
    }

    public var description: String {
        "cannot enter the platform scope inside the scope of tenant '\(currentTenantID)': "
            + "run platform work outside every tenant scope"
    }
}
