import Foundation
import Tenancy

/// The quota and rate-limit sections of the demo: a free-tier tenant charges debates until
/// its daily quota rejects one and refunds a failed debate, and a burst of requests runs into
/// a rate limit with its header fields.
extension DemoCommand {
    /// The counts of the quota section, for the summary.
    struct QuotaOutcome: Encodable {
        let tenantID: String
        let quota: String
        let limit: Int
        /// The charges admitted before the first rejection.
        let admitted: Int
        /// The rejection's retry-after in seconds, rounded up.
        let retryAfterSeconds: Int64?
        /// The units used after the refund of one charge.
        let usedAfterRefund: Int
    }

    /// The counts of the rate-limit section, for the summary.
    struct RateLimitOutcome: Encodable {
        let tenantID: String
        let key: String
        let requests: Int
        let admitted: Int
        /// The `Retry-After` of the first rejected request, in seconds.
        let retryAfterSeconds: Int?
    }

    /// The quota the quota section charges, one unit per debate started.
    private static let demoQuota = QuotaCatalog.debates

    /// Returns the rule of the rate-limit section: 10 requests per minute with bursts of 5, so
    /// a burst of ``burstSize`` requests is rejected part way.
    private static func demoRateLimitRule() throws -> RateLimitRule {
        try RateLimitRule(rate: 10, per: .seconds(60), burst: 5)
    }

    /// The number of requests the rate-limit section sends at once.
    private static let burstSize = 7

    /// Charges ``demoQuota`` for `tenant` until the quota rejects a charge, then refunds the
    /// last charge twice to show that a refund applies once.
    static func runQuotas(for tenant: Tenant, registry: OpenRegistry, narrator: Narrator) async throws -> QuotaOutcome {
        let quotas = try registry.quotaManager()
        var charges: [QuotaCharge] = []
        var rejection: QuotaExceeded?
        while rejection == nil {
            // A free-tier tenant has 10 debates per day; the bound stops a demo run against a
            // registry whose overrides raised the limit.
            guard charges.count < 100 else {
                throw DemoFailure("'\(tenant.id)' charged \(demoQuota) 100 times without a rejection")
            }
            do {
                charges.append(try await quotas.checkAndIncrement(demoQuota, tenantID: tenant.id))
            } catch let error as QuotaExceeded {
                rejection = error
            }
        }
        guard let rejection, let lastCharge = charges.last else {
            throw DemoFailure("'\(tenant.id)' was rejected before any \(demoQuota) charge was admitted")
        }
        let retryAfterSeconds = rejection.retryAfterSeconds
        var lines = [
            "\(tenant.id) (\(tenant.tier) tier) starts debates, each charging quotas.checkAndIncrement(\"\(demoQuota)\", tenantID:):",
            "\(charges.count) admitted, then charge \(charges.count + 1) is rejected with QuotaExceeded:",
            "  \(rejection)",
        ]
        if let retryAfterSeconds, let resetsAt = rejection.resetsAt {
            lines.append("  retryAfter: \(retryAfterSeconds) s, when the \(rejection.period) window resets at \(JSONOutput.timestamp(resetsAt))")
        }

        let firstRefund = try await quotas.refund(lastCharge)
        let afterFirst = try await used(demoQuota, tenantID: tenant.id, quotas: quotas)
        let secondRefund = try await quotas.refund(lastCharge)
        let afterSecond = try await used(demoQuota, tenantID: tenant.id, quotas: quotas)
        guard firstRefund, !secondRefund, afterFirst == charges.count - 1, afterSecond == afterFirst else {
            throw DemoFailure("the refund of one \(demoQuota) charge left \(afterSecond) used, expected \(charges.count - 1)")
        }
        lines += [
            "",
            "Debate \(charges.count) failed after its charge, so the application refunds it:",
            "  quotas.refund(charge)        -> \(firstRefund), \(demoQuota) used \(charges.count) -> \(afterFirst)",
            "  quotas.refund(charge) again  -> \(secondRefund), \(demoQuota) used stays \(afterSecond)",
            "",
            UsageCommands.render(try await quotas.usage(tenantID: tenant.id).filter { $0.quota == demoQuota }),
        ]
        narrator.say(lines.joined(separator: "\n"))

        return QuotaOutcome(
            tenantID: tenant.id.rawValue, quota: demoQuota, limit: rejection.limit, admitted: charges.count,
            retryAfterSeconds: retryAfterSeconds, usedAfterRefund: afterSecond)
    }

    /// Returns the units of `quota` used in its first period's current window.
    private static func used(_ quota: String, tenantID: TenantID, quotas: QuotaManager) async throws -> Int {
        try await quotas.usage(tenantID: tenantID).first { $0.quota == quota }?.used ?? 0
    }

    /// Sends ``burstSize`` requests at once through a ``RateLimiter`` on key `api` and prints
    /// each decision and the header fields of the first rejected one.
    static func runRateLimits(for tenant: Tenant, registry: OpenRegistry, narrator: Narrator) async throws -> RateLimitOutcome {
        let rule = try demoRateLimitRule()
        let limiter = try RateLimiter(
            rules: ["api": rule], store: registry.rateLimitStore, tenants: registry.manager.store, clock: registry.manager.clock)
        var decisions: [RateLimitDecision] = []
        for _ in 0..<burstSize {
            decisions.append(try await limiter.acquire(tenantID: tenant.id, key: "api"))
        }
        guard let rejected = decisions.first(where: { !$0.allowed }) else {
            throw DemoFailure("a burst of \(burstSize) requests passed a rule with a burst of \(rule.burst)")
        }

        var table = TextTable("REQUEST", "RESULT", "RateLimit", "Retry-After")
        for (number, decision) in zip(1..., decisions) {
            let rateLimit = decision.headerFields.first { $0.name == "RateLimit" }?.value ?? "-"
            table.append(
                "\(number)", decision.allowed ? "allowed" : "rejected", rateLimit, decision.retryAfterSeconds.map(String.init) ?? "-")
        }
        var lines = [
            "A RateLimiter with the rule \(rule.rate) per minute, burst \(rule.burst), on key api. \(tenant.id) sends \(burstSize) requests at once:",
            "",
            table.render(),
            "",
            "The first rejected request gets these header fields:",
            "  HTTP/1.1 429 Too Many Requests",
        ]
        lines += rejected.headerFields.map { "  \($0.name): \($0.value)" }
        narrator.say(lines.joined(separator: "\n"))

        return RateLimitOutcome(
            tenantID: tenant.id.rawValue, key: "api", requests: decisions.count, admitted: decisions.filter(\.allowed).count,
            retryAfterSeconds: rejected.retryAfterSeconds)
    }
}
