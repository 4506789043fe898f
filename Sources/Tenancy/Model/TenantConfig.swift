/// Per-tenant overrides of the tier defaults; every field is optional and nil means "the tier's
/// value".
///
/// Changing a tenant's tier keeps its overrides. Sizes are in bytes, and the `GB` spellings
/// mean 2^30 bytes.
public struct TenantConfig: Hashable, Sendable, Codable {
    public var maxDebatesPerDay: Int?
    public var maxAgentsPerDebate: Int?
    public var maxRoundsPerDebate: Int?
    public var maxConcurrentDebates: Int?
    public var maxUsers: Int?
    public var maxConnectors: Int?
    /// The storage quota override in bytes.
    public var storageQuotaBytes: Int?
    /// The knowledge-base quota override in bytes.
    public var knowledgeQuotaBytes: Int?
    public var apiRequestsPerMinute: Int?
    public var apiRequestsPerDay: Int?
    public var tokensPerMonth: Int?
    public var tokensPerDebate: Int?
    /// Features enabled on top of the tier's.
    public var enabledFeatures: Set<TenantFeature>
    /// Features disabled although the tier has them.
    public var disabledFeatures: Set<TenantFeature>

    /// Creates a configuration with no overrides.
    public init() {
        enabledFeatures = []
        disabledFeatures = []
    }

    /// Creates a configuration with the overrides most deployments negotiate; `storageQuotaGB`
    /// is in GiB (2^30 bytes).
    public init(maxConcurrentDebates: Int? = nil, maxAgentsPerDebate: Int? = nil, storageQuotaGB: Int? = nil) {
        self.init()
        self.maxConcurrentDebates = maxConcurrentDebates
        self.maxAgentsPerDebate = maxAgentsPerDebate
        self.storageQuotaGB = storageQuotaGB
    }

    /// The storage quota override in whole GiB, or nil when none is set.
    ///
    /// Setting it stores `value * 2^30` bytes and traps when that does not fit in 64 bits;
    /// reading rounds down to whole GiB.
    public var storageQuotaGB: Int? {
        get { storageQuotaBytes.map { $0 / TenantLimits.gibibyte } }
        set {
            storageQuotaBytes = newValue.map { gigabytes in
                let (bytes, overflow) = gigabytes.multipliedReportingOverflow(by: TenantLimits.gibibyte)
                precondition(!overflow, "storageQuotaGB \(gigabytes) does not fit in 64 bits of bytes")
                return bytes
            }
        }
    }

    /// Whether no override is set.
    public var isEmpty: Bool { self == TenantConfig() }

    /// Checks every override: counts and sizes must be 0 or more (0 admits nothing; "unlimited"
    /// is no override on an unlimited tier, never 0), a GB value must fit in 64 bits, and no
    /// feature may be both enabled and disabled.
    public func validate() throws {
        let values: [(String, Int?)] = [
            ("maxDebatesPerDay", maxDebatesPerDay), ("maxAgentsPerDebate", maxAgentsPerDebate),
            ("maxRoundsPerDebate", maxRoundsPerDebate), ("maxConcurrentDebates", maxConcurrentDebates),
            ("maxUsers", maxUsers), ("maxConnectors", maxConnectors), ("storageQuotaBytes", storageQuotaBytes),
            ("knowledgeQuotaBytes", knowledgeQuotaBytes), ("apiRequestsPerMinute", apiRequestsPerMinute),
            ("apiRequestsPerDay", apiRequestsPerDay), ("tokensPerMonth", tokensPerMonth),
            ("tokensPerDebate", tokensPerDebate),
        ]
        for (name, value) in values {
            if let value, value < 0 {
                throw ValidationError(
                    .invalidConfig, field: name, message: "invalid \(name) \(value): expected 0 or more")
            }
        }
        let conflicting = enabledFeatures.intersection(disabledFeatures)
        if let feature = conflicting.sorted(by: { $0.rawValue < $1.rawValue }).first {
            throw ValidationError(
                .invalidConfig, field: "features",
                message: "invalid features: '\(feature)' is both enabled and disabled")
        }
    }
}
