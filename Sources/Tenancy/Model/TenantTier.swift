/// A commercial tier, ordered `free < starter < professional < business < enterprise`.
///
/// Negotiated limits are per-tenant overrides in ``TenantConfig``, not a tier of their own.
public enum TenantTier: String, CaseIterable, Comparable, Codable, Sendable, CustomStringConvertible {
    case free
    case starter
    case professional
    case business
    case enterprise

    public static func < (lhs: TenantTier, rhs: TenantTier) -> Bool {
        lhs.rank < rhs.rank
    }

    var rank: Int { Self.allCases.firstIndex(of: self)! }

    public var description: String { rawValue }

    /// Creates a tier from its name, as the CLI and stored rows spell it.
    ///
    /// - Throws: ``ValidationError`` naming the value and the known tiers.
    public init(validating name: String) throws {
        guard let tier = TenantTier(rawValue: name) else {
            throw ValidationError(
                .invalidArgument, field: "tier",
                message: "invalid tier \(TenantID.quotedForMessage(name)): expected one of "
                    + Self.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = tier
    }
}
