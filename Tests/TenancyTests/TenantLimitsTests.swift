import Testing
import Tenancy
import TenancyTesting

let gib = 1 << 30
let mib = 1 << 20

/// Builds a `TenantLimits` with every field given. The type has no public memberwise
/// initializer, so this sets each field of another tier's defaults.
func makeLimits(
    maxDebatesPerDay: Int, maxAgentsPerDebate: Int, maxRoundsPerDebate: Int, maxConcurrentDebates: Int,
    maxUsers: Int, maxConnectors: Int, storageQuotaBytes: Int, knowledgeQuotaBytes: Int,
    apiRequestsPerMinute: Int, apiRequestsPerDay: Int, tokensPerMonth: Int, tokensPerDebate: Int,
    features: Set<TenantFeature>
) -> TenantLimits {
    var limits = TenantLimits.defaults(for: .business)
    limits.maxDebatesPerDay = maxDebatesPerDay
    limits.maxAgentsPerDebate = maxAgentsPerDebate
    limits.maxRoundsPerDebate = maxRoundsPerDebate
    limits.maxConcurrentDebates = maxConcurrentDebates
    limits.maxUsers = maxUsers
    limits.maxConnectors = maxConnectors
    limits.storageQuotaBytes = storageQuotaBytes
    limits.knowledgeQuotaBytes = knowledgeQuotaBytes
    limits.apiRequestsPerMinute = apiRequestsPerMinute
    limits.apiRequestsPerDay = apiRequestsPerDay
    limits.tokensPerMonth = tokensPerMonth
    limits.tokensPerDebate = tokensPerDebate
    limits.features = features
    return limits
}

/// The tier defaults, written out in full so a change to any of them fails a test.
let expectedTierDefaults: [(TenantTier, TenantLimits)] = [
    (.free, makeLimits(
        maxDebatesPerDay: 10, maxAgentsPerDebate: 5, maxRoundsPerDebate: 8, maxConcurrentDebates: 1,
        maxUsers: 3, maxConnectors: 1, storageQuotaBytes: gib, knowledgeQuotaBytes: 100 * mib,
        apiRequestsPerMinute: 20, apiRequestsPerDay: 1_000, tokensPerMonth: 100_000, tokensPerDebate: 10_000,
        features: [.apiAccess, .auditLog])),
    (.starter, makeLimits(
        maxDebatesPerDay: 50, maxAgentsPerDebate: 8, maxRoundsPerDebate: 15, maxConcurrentDebates: 3,
        maxUsers: 10, maxConnectors: 3, storageQuotaBytes: 10 * gib, knowledgeQuotaBytes: gib,
        apiRequestsPerMinute: 60, apiRequestsPerDay: 10_000, tokensPerMonth: 500_000, tokensPerDebate: 25_000,
        features: [.apiAccess, .auditLog, .extendedDebates, .webhooks])),
    (.professional, makeLimits(
        maxDebatesPerDay: 200, maxAgentsPerDebate: 15, maxRoundsPerDebate: 50, maxConcurrentDebates: 10,
        maxUsers: 50, maxConnectors: 10, storageQuotaBytes: 100 * gib, knowledgeQuotaBytes: 10 * gib,
        apiRequestsPerMinute: 300, apiRequestsPerDay: 100_000, tokensPerMonth: 5_000_000, tokensPerDebate: 100_000,
        features: [.apiAccess, .auditLog, .extendedDebates, .webhooks, .customAgents, .sso])),
    (.business, makeLimits(
        maxDebatesPerDay: 1_000, maxAgentsPerDebate: 25, maxRoundsPerDebate: 75, maxConcurrentDebates: 25,
        maxUsers: 200, maxConnectors: 25, storageQuotaBytes: 250 * gib, knowledgeQuotaBytes: 25 * gib,
        apiRequestsPerMinute: 500, apiRequestsPerDay: 250_000, tokensPerMonth: 15_000_000, tokensPerDebate: 250_000,
        features: [.apiAccess, .auditLog, .extendedDebates, .webhooks, .customAgents, .sso, .advancedAnalytics])),
    (.enterprise, makeLimits(
        maxDebatesPerDay: 10_000, maxAgentsPerDebate: 50, maxRoundsPerDebate: 100, maxConcurrentDebates: 100,
        maxUsers: 1_000, maxConnectors: 50, storageQuotaBytes: 1_024 * gib, knowledgeQuotaBytes: 100 * gib,
        apiRequestsPerMinute: 1_000, apiRequestsPerDay: 1_000_000, tokensPerMonth: 50_000_000,
        tokensPerDebate: 500_000,
        features: [
            .apiAccess, .auditLog, .extendedDebates, .webhooks, .customAgents, .sso, .advancedAnalytics,
            .dedicatedPlacement,
        ])),
]

@Suite("Tiers and limits")
struct TenantLimitsTests {
    @Test("Acme example overrides three limits")
    func acmeExample() {
        let tenant = Tenant(
            id: "acme-corp", name: "Acme Corporation", tier: .enterprise,
            config: TenantConfig(maxConcurrentDebates: 50, maxAgentsPerDebate: 10, storageQuotaGB: 100))

        #expect(tenant.config.maxConcurrentDebates == 50)
        #expect(tenant.config.maxAgentsPerDebate == 10)
        #expect(tenant.config.storageQuotaGB == 100)
        #expect(tenant.config.storageQuotaBytes == 107_374_182_400)
        #expect(tenant.limits.maxConcurrentDebates == 50)
        #expect(tenant.limits.maxAgentsPerDebate == 10)
        #expect(tenant.limits.storageQuotaBytes == 100 * 1_073_741_824)

        var expected = TenantLimits.defaults(for: .enterprise)
        expected.maxConcurrentDebates = 50
        expected.maxAgentsPerDebate = 10
        expected.storageQuotaBytes = 107_374_182_400
        #expect(tenant.limits == expected)
        #expect(tenant.limits.maxDebatesPerDay == 10_000)
        #expect(tenant.limits.tokensPerMonth == 50_000_000)
    }

    @Test("Tier defaults match the table", arguments: expectedTierDefaults)
    func tierDefaults(tier: TenantTier, expected: TenantLimits) {
        #expect(TenantLimits.defaults(for: tier) == expected)
        #expect(Tenant(id: "acme-corp", name: "Acme", tier: tier).limits == expected)
    }

    @Test("Features follow the tier", arguments: expectedTierDefaults)
    func featuresPerTier(tier: TenantTier, expected: TenantLimits) {
        #expect(TenantFeature.defaults(for: tier) == expected.features)
        let tenant = Tenant(id: "acme-corp", name: "Acme", tier: tier)
        for feature in TenantFeature.allCases {
            #expect(tenant.hasFeature(feature) == expected.features.contains(feature))
        }
    }

    @Test("Feature overrides enable and disable")
    func featureOverrides() {
        var config = TenantConfig()
        config.enabledFeatures = [.sso]
        config.disabledFeatures = [.webhooks]
        let tenant = Tenant(id: "acme-corp", name: "Acme", tier: .starter, config: config)

        #expect(tenant.limits.features == [.apiAccess, .auditLog, .extendedDebates, .sso])
    }

    @Test("Tiers are ordered free to enterprise")
    func tierOrder() {
        #expect(TenantTier.allCases == [.free, .starter, .professional, .business, .enterprise])
        #expect(TenantTier.free < .starter)
        #expect(TenantTier.starter < .professional)
        #expect(TenantTier.professional < .business)
        #expect(TenantTier.business < .enterprise)
        #expect(!(TenantTier.enterprise < .business))
        #expect(TenantTier.enterprise >= .business)
        #expect(TenantTier.business >= .business)
        #expect(!(TenantTier.professional >= .business))
        #expect(TenantTier.allCases.sorted() == TenantTier.allCases)
        #expect(TenantTier.allCases.reversed().sorted() == TenantTier.allCases)
    }

    @Test("Tier change keeps the overrides")
    func tierChangeKeepsOverrides() async throws {
        let (manager, clock) = makeManager()
        let config = TenantConfig(maxConcurrentDebates: 50, maxAgentsPerDebate: 10, storageQuotaGB: 100)
        try await manager.createTenant(
            name: "Acme Corporation", tier: .enterprise, adminEmail: "admin@acme.com", id: "acme-corp", config: config)
        clock.advance(by: .seconds(60))

        let changed = try await manager.updateTier("acme-corp", to: .starter)
        #expect(changed.tier == .starter)
        #expect(changed.config == config)
        #expect(changed.updatedAt == clock.now())
        #expect(changed.limits.maxConcurrentDebates == 50)
        #expect(changed.limits.maxAgentsPerDebate == 10)
        #expect(changed.limits.storageQuotaBytes == 100 * gib)
        #expect(changed.limits.maxDebatesPerDay == 50)
        #expect(changed.limits.features == [.apiAccess, .auditLog, .extendedDebates, .webhooks])
        #expect(try await manager.tenant("acme-corp") == changed)
    }

    @Test("Negative override is rejected")
    func negativeOverride() async throws {
        let (manager, _) = makeManager()
        var config = TenantConfig()
        config.maxUsers = -1

        let error = try await #require(throws: ValidationError.self) {
            try await manager.createTenant(name: "Acme", tier: .free, adminEmail: "a@acme.com", config: config)
        }
        #expect(error.code == .invalidConfig)
        #expect(error.message == "invalid maxUsers -1: expected 0 or more")
        #expect(try await manager.listTenants().tenants == [])
    }
}
