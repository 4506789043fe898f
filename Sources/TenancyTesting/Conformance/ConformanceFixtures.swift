import Foundation
import Tenancy

/// Values the conformance suites store and expect back.
///
/// Every instant is a whole millisecond, the precision every store keeps.
enum ConformanceFixtures {
    static let createdAt = Date(millisecondsSince1970: 1_700_000_000_123)
    static let updatedAt = Date(millisecondsSince1970: 1_700_000_500_456)
    static let deletedAt = Date(millisecondsSince1970: 1_700_000_900_789)

    /// Returns a tenant with every optional field nil and every collection empty.
    static func minimalTenant(id: TenantID = "minimal-tenant") -> Tenant {
        Tenant(id: id, name: "M", tier: .free, status: .pending, createdAt: createdAt)
    }

    /// Returns a tenant with every field set, including every override, a non-UTC time zone, a
    /// database placement, and text that needs quoting in SQL and JSON.
    static func fullTenant(id: TenantID = "full-tenant") -> Tenant {
        var config = TenantConfig()
        config.maxDebatesPerDay = 0
        config.maxAgentsPerDebate = 12
        config.maxRoundsPerDebate = 30
        config.maxConcurrentDebates = 7
        config.maxUsers = 1_500
        config.maxConnectors = 9
        config.storageQuotaBytes = 1 << 50
        config.knowledgeQuotaBytes = 3 * TenantLimits.gibibyte + 1
        config.apiRequestsPerMinute = 450
        config.apiRequestsPerDay = 600_000
        config.tokensPerMonth = 70_000_000
        config.tokensPerDebate = 123_456
        config.enabledFeatures = [.sso, .dedicatedPlacement]
        config.disabledFeatures = [.auditLog]

        var tenant = Tenant(
            id: id,
            name: "O'Brien \"Quoted\" Ærøskøbing; DROP TABLE tenants; --",
            tier: .business,
            status: .suspended,
            config: config,
            adminEmail: "ops+billing@example.co.uk",
            timeZone: "America/Argentina/Buenos_Aires",
            placement: .database(name: "full-tenant.sqlite"),
            createdAt: createdAt,
            updatedAt: updatedAt,
            metadata: ["plan.note": "it's \"negotiated\"", "region": "eu-central-1", "empty": "", "ünïcode": "日本語"]
        )
        tenant.statusBeforeSuspension = .trial
        tenant.suspensionReason = "billing overdue"
        tenant.deletedAt = deletedAt
        return tenant
    }
}

/// The error a conformance check throws from inside an update closure.
struct ConformanceProbeError: Error, Equatable {}
