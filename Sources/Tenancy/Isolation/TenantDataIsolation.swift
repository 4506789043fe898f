/// Which isolation guarantees a deployment asks for.
///
/// ``TenantIsolationEnforcer`` checks at construction that the database and its placement can
/// honour them, and refuses to start otherwise.
public struct TenantDataIsolation: Hashable, Sendable {
    /// Filter every tenant table by the bound tenant in the database itself (row-level
    /// security on PostgreSQL, filtered views, triggers and an authorizer on SQLite). May be
    /// false only with a database-per-tenant placement, where separate databases isolate.
    public var enforceRowLevelSecurity: Bool
    /// Give each tenant its own file root with validated names (see `TenantFileStorage`).
    public var isolateFileStorage: Bool
    /// Encrypt each tenant's data under its own key. Not available yet: the encryption module
    /// is not part of this release, so `true` is refused.
    public var separateEncryptionKeys: Bool

    public init(enforceRowLevelSecurity: Bool = true, isolateFileStorage: Bool = true, separateEncryptionKeys: Bool = false) {
        self.enforceRowLevelSecurity = enforceRowLevelSecurity
        self.isolateFileStorage = isolateFileStorage
        self.separateEncryptionKeys = separateEncryptionKeys
    }
}

/// How a database keeps tenants apart.
public enum IsolationPlacement: String, Hashable, Sendable, CustomStringConvertible {
    /// Shared tables with a `tenant_id` column, filtered by the database.
    case pool
    /// One database per tenant.
    case databasePerTenant

    public var description: String { rawValue }
}

/// A database that can hand out handles bound to one tenant; each backend's placements
/// conform.
public protocol TenantDatabaseProvider: Sendable {
    /// The handle a tenant scope gets: every statement through it runs as that tenant.
    associatedtype Handle: Sendable

    /// How this database keeps tenants apart.
    var placement: IsolationPlacement { get }

    /// Whether the database itself filters rows by the bound tenant.
    var enforcesRowLevelSecurity: Bool { get }

    /// Returns a handle bound to the tenant.
    func handle(for tenant: Tenant) async throws -> Handle
}
