/// A named feature flag that tiers enable and tenant overrides can change.
public enum TenantFeature: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case apiAccess
    case auditLog
    case extendedDebates
    case webhooks
    case customAgents
    case sso
    case advancedAnalytics
    case dedicatedPlacement

    public var description: String { rawValue }

    /// The features each tier enables; every tier has those of the tiers below it.
    public static func defaults(for tier: TenantTier) -> Set<TenantFeature> {
        switch tier {
        case .free: [.apiAccess, .auditLog]
        case .starter: defaults(for: .free).union([.extendedDebates, .webhooks])
        case .professional: defaults(for: .starter).union([.customAgents, .sso])
        case .business: defaults(for: .professional).union([.advancedAnalytics])
        case .enterprise: Set(allCases)
        }
    }
}
