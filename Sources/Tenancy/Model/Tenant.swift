public import Foundation

/// A tenant as the registry stores it.
///
/// A `Tenant` is a snapshot: the registry's copy changes only through ``TenantManager``.
public struct Tenant: Hashable, Sendable, Codable, Identifiable {
    public var id: TenantID
    /// The display name; empty on a deleted tenant's tombstone.
    public var name: String
    public var tier: TenantTier
    public var status: TenantStatus
    /// The status a suspended tenant returns to when reactivated.
    public var statusBeforeSuspension: TenantStatus?
    /// The reason given for the suspension; nil when the tenant is not suspended or no reason was given.
    public var suspensionReason: String?
    /// Per-tenant overrides of the tier defaults.
    public var config: TenantConfig
    /// The admin's e-mail address; nil on a tombstone. Personal data: never logged.
    public var adminEmail: String?
    /// An IANA time zone identifier; quota windows follow it.
    public var timeZone: String
    public var placement: TenantPlacement
    public var createdAt: Date
    public var updatedAt: Date
    /// When the tenant was cancelled or deleted; nil while it is in service.
    public var deletedAt: Date?
    /// Application-defined string metadata.
    public var metadata: [String: String]

    /// Creates a tenant value; ``TenantManager/createTenant(name:tier:adminEmail:id:status:timeZone:config:metadata:)``
    /// validates and stores one.
    public init(
        id: TenantID,
        name: String,
        tier: TenantTier,
        status: TenantStatus = .active,
        config: TenantConfig = TenantConfig(),
        adminEmail: String? = nil,
        timeZone: String = "UTC",
        placement: TenantPlacement = .pool,
        createdAt: Date = Date(),
        updatedAt: Date? = nil,
        metadata: [String: String] = [:]
    ) {
        self.id = id
        self.name = name
        self.tier = tier
        self.status = status
        self.config = config
        self.adminEmail = adminEmail
        self.timeZone = timeZone
        self.placement = placement
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.metadata = metadata
    }

    /// The effective limits: the tier's defaults overlaid with ``config``.
    public var limits: TenantLimits {
        TenantLimits.defaults(for: tier).applying(config)
    }

    /// Returns whether the tenant's tier or overrides enable `feature`.
    public func hasFeature(_ feature: TenantFeature) -> Bool {
        limits.features.contains(feature)
    }
}

extension Tenant: CustomStringConvertible, CustomDebugStringConvertible {
    /// The id, tier and status. The name and admin e-mail are left out, so printing a tenant
    /// (or a context holding one) never puts personal data in a log.
    public var description: String {
        "Tenant(id: \(id), tier: \(tier), status: \(status))"
    }

    /// The same as ``description``: string interpolation of nested values uses the debug
    /// description, so it must not reveal more.
    public var debugDescription: String { description }
}
