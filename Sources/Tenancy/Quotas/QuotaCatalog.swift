/// The built-in quota names and the tier limit behind each.
///
/// Applications add their own names through ``QuotaConfig``. "API calls" and "API requests"
/// are one quota, `api_requests`.
public enum QuotaCatalog {
    /// Debates started, per day (`maxDebatesPerDay`).
    public static let debates = "debates"
    /// Debates running at once, as leases (`maxConcurrentDebates`).
    public static let concurrentDebates = "concurrent_debates"
    /// API requests, per minute (`apiRequestsPerMinute`) and per day (`apiRequestsPerDay`).
    public static let apiRequests = "api_requests"
    /// Model tokens, per month (`tokensPerMonth`).
    public static let tokens = "tokens"
    /// Stored bytes, a gauge (`storageQuotaBytes`).
    public static let storageBytes = "storage_bytes"
    /// Knowledge-base bytes, a gauge (`knowledgeQuotaBytes`).
    public static let knowledgeBytes = "knowledge_bytes"
    /// Users, a gauge (`maxUsers`).
    public static let users = "users"
    /// Connectors, a gauge (`maxConnectors`).
    public static let connectors = "connectors"

    /// The built-in quotas enforced with leases.
    public static let leaseQuotas: Set<String> = [concurrentDebates]

    /// The maximum length of a quota name.
    public static let maximumNameLength = 64

    /// Returns the tier limits of a built-in windowed or gauge quota, one per period; empty for
    /// other names.
    public static func tierLimits(_ name: String) -> [(period: QuotaPeriod, value: KeyPath<TenantLimits, Int>)] {
        switch name {
        case debates: [(.day, \.maxDebatesPerDay)]
        case apiRequests: [(.minute, \.apiRequestsPerMinute), (.day, \.apiRequestsPerDay)]
        case tokens: [(.month, \.tokensPerMonth)]
        case storageBytes: [(.none, \.storageQuotaBytes)]
        case knowledgeBytes: [(.none, \.knowledgeQuotaBytes)]
        case users: [(.none, \.maxUsers)]
        case connectors: [(.none, \.maxConnectors)]
        default: []
        }
    }

    /// Returns the tier limit of a built-in lease quota, or nil for other names.
    public static func tierLeaseLimit(_ name: String) -> KeyPath<TenantLimits, Int>? {
        name == concurrentDebates ? \.maxConcurrentDebates : nil
    }

    /// The names of every built-in quota, windowed, gauge and lease.
    public static let builtInNames: [String] = [
        debates, concurrentDebates, apiRequests, tokens, storageBytes, knowledgeBytes, users, connectors,
    ]

    /// Checks that a quota name is 1 to 64 characters of `a-z`, `0-9` and `_`, starting with a
    /// letter, so it is safe in store keys and log lines.
    ///
    /// - Throws: ``ValidationError`` naming the value.
    public static func validateName(_ name: String) throws {
        let bytes = Array(name.utf8)
        let allowed = bytes.allSatisfy { byte in
            TenantID.isLetter(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
        }
        guard allowed, (1...maximumNameLength).contains(bytes.count), let first = bytes.first, TenantID.isLetter(first) else {
            throw ValidationError(
                .invalidArgument, field: "quota",
                message: "invalid quota name \(TenantID.quotedForMessage(name)): expected 1 to \(maximumNameLength) characters of a-z, 0-9 and '_', starting with a letter")
        }
    }
}
