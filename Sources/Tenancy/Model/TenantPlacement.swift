/// Where a tenant's rows live, recorded per tenant.
public enum TenantPlacement: Hashable, Sendable, CustomStringConvertible {
    /// Shared tables with a `tenant_id` column, isolated by row-level security (the default).
    case pool
    /// A database of the tenant's own; `name` identifies it in the deployment's placement
    /// configuration (a file name for SQLite), never a credential.
    case database(name: String)

    public var description: String {
        switch self {
        case .pool: "pool"
        case .database(let name): "database:\(name)"
        }
    }

    /// Parses the form ``description`` writes (`pool` or `database:NAME`).
    public init?(_ text: String) {
        if text == "pool" {
            self = .pool
        } else if text.hasPrefix("database:"), text.count > "database:".count {
            self = .database(name: String(text.dropFirst("database:".count)))
        } else {
            return nil
        }
    }
}

extension TenantPlacement: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let placement = TenantPlacement(text) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath, debugDescription: "invalid placement '\(text)': expected pool or database:NAME"))
        }
        self = placement
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
