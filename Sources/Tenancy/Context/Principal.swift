/// The authenticated caller a unit of work acts for: a user, an API key or a service.
public struct Principal: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The kind of caller.
    public enum Kind: String, Hashable, Sendable, Codable {
        case user
        case apiKey
        case service
        case `operator`
    }

    /// An opaque identifier of the caller (never an e-mail address or a secret), recorded in
    /// audit records.
    public let id: String
    public let kind: Kind
    /// The tenant the principal belongs to; nil for platform operators and services.
    public let tenantID: TenantID?

    /// Creates a principal.
    ///
    /// - Throws: ``ValidationError`` when `id` is empty, longer than 128 characters, or
    ///   contains spaces, control characters or `@` (ids must not be e-mail addresses, because
    ///   audit records keep them).
    public init(id: String, kind: Kind, tenantID: TenantID? = nil) throws {
        let valid = (1...128).contains(id.count) && !id.unicodeScalars.contains {
            $0.properties.isWhitespace || $0.properties.generalCategory == .control || $0 == "@"
        }
        guard valid else {
            throw ValidationError(
                .invalidArgument, field: "principal id",
                message: "invalid principal id: expected 1 to 128 characters without spaces, control characters or '@'")
        }
        self.id = id
        self.kind = kind
        self.tenantID = tenantID
    }

    public var description: String { "\(kind.rawValue):\(id)" }
}
