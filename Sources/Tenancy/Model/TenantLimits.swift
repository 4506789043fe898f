/// The effective limits of a tenant: its tier's defaults overlaid with its overrides.
///
/// Every field is present. Storage sizes are in bytes; "GB" in this API means 2^30 bytes.
public struct TenantLimits: Hashable, Sendable, Codable {
    public var maxDebatesPerDay: Int
    public var maxAgentsPerDebate: Int
    public var maxRoundsPerDebate: Int
    public var maxConcurrentDebates: Int
    public var maxUsers: Int
    public var maxConnectors: Int
    /// The storage quota in bytes.
    public var storageQuotaBytes: Int
    /// The knowledge-base quota in bytes.
    public var knowledgeQuotaBytes: Int
    public var apiRequestsPerMinute: Int
    public var apiRequestsPerDay: Int
    public var tokensPerMonth: Int
    public var tokensPerDebate: Int
    /// The enabled feature flags.
    public var features: Set<TenantFeature>

    /// One GiB, 2^30 bytes.
    public static let gibibyte = 1 << 30
    /// One MiB, 2^20 bytes.
    public static let mebibyte = 1 << 20

    /// The defaults of a tier.
    public static func defaults(for tier: TenantTier) -> TenantLimits {
        switch tier {
        case .free:
            TenantLimits(
                maxDebatesPerDay: 10, maxAgentsPerDebate: 5, maxRoundsPerDebate: 8, maxConcurrentDebates: 1,
                maxUsers: 3, maxConnectors: 1, storageQuotaBytes: gibibyte, knowledgeQuotaBytes: 100 * mebibyte,
                apiRequestsPerMinute: 20, apiRequestsPerDay: 1_000, tokensPerMonth: 100_000, tokensPerDebate: 10_000,
                features: TenantFeature.defaults(for: tier))
        case .starter:
            TenantLimits(
                maxDebatesPerDay: 50, maxAgentsPerDebate: 8, maxRoundsPerDebate: 15, maxConcurrentDebates: 3,
                maxUsers: 10, maxConnectors: 3, storageQuotaBytes: 10 * gibibyte, knowledgeQuotaBytes: gibibyte,
                apiRequestsPerMinute: 60, apiRequestsPerDay: 10_000, tokensPerMonth: 500_000, tokensPerDebate: 25_000,
                features: TenantFeature.defaults(for: tier))
        case .professional:
            TenantLimits(
                maxDebatesPerDay: 200, maxAgentsPerDebate: 15, maxRoundsPerDebate: 50, maxConcurrentDebates: 10,
                maxUsers: 50, maxConnectors: 10, storageQuotaBytes: 100 * gibibyte, knowledgeQuotaBytes: 10 * gibibyte,
                apiRequestsPerMinute: 300, apiRequestsPerDay: 100_000, tokensPerMonth: 5_000_000,
                tokensPerDebate: 100_000, features: TenantFeature.defaults(for: tier))
        case .business:
            TenantLimits(
                maxDebatesPerDay: 1_000, maxAgentsPerDebate: 25, maxRoundsPerDebate: 75, maxConcurrentDebates: 25,
                maxUsers: 200, maxConnectors: 25, storageQuotaBytes: 250 * gibibyte, knowledgeQuotaBytes: 25 * gibibyte,
                apiRequestsPerMinute: 500, apiRequestsPerDay: 250_000, tokensPerMonth: 15_000_000,
                tokensPerDebate: 250_000, features: TenantFeature.defaults(for: tier))
        case .enterprise:
            TenantLimits(
                maxDebatesPerDay: 10_000, maxAgentsPerDebate: 50, maxRoundsPerDebate: 100, maxConcurrentDebates: 100,
                maxUsers: 1_000, maxConnectors: 50, storageQuotaBytes: 1_024 * gibibyte,
                knowledgeQuotaBytes: 100 * gibibyte, apiRequestsPerMinute: 1_000, apiRequestsPerDay: 1_000_000,
                tokensPerMonth: 50_000_000, tokensPerDebate: 500_000, features: TenantFeature.defaults(for: tier))
        }
    }

    /// Returns these limits with every override that `config` sets.
    public func applying(_ config: TenantConfig) -> TenantLimits {
        var limits = self
        if let value = config.maxDebatesPerDay { limits.maxDebatesPerDay = value }
        if let value = config.maxAgentsPerDebate { limits.maxAgentsPerDebate = value }
        if let value = config.maxRoundsPerDebate { limits.maxRoundsPerDebate = value }
        if let value = config.maxConcurrentDebates { limits.maxConcurrentDebates = value }
        if let value = config.maxUsers { limits.maxUsers = value }
        if let value = config.maxConnectors { limits.maxConnectors = value }
        if let value = config.storageQuotaBytes { limits.storageQuotaBytes = value }
        if let value = config.knowledgeQuotaBytes { limits.knowledgeQuotaBytes = value }
        if let value = config.apiRequestsPerMinute { limits.apiRequestsPerMinute = value }
        if let value = config.apiRequestsPerDay { limits.apiRequestsPerDay = value }
        if let value = config.tokensPerMonth { limits.tokensPerMonth = value }
        if let value = config.tokensPerDebate { limits.tokensPerDebate = value }
        limits.features.formUnion(config.enabledFeatures)
        limits.features.subtract(config.disabledFeatures)
        return limits
    }
}
