import Foundation
import Tenancy
import TenancyTesting
import Testing

@Suite("Rate limiter")
struct RateLimiterTests {
    func limiter(_ rule: RateLimitRule, clock: FixedClock, aggregates: RateLimitAggregates? = nil, tenants: (any TenantStore)? = nil) throws -> RateLimiter {
        try RateLimiter(rules: ["api": rule], aggregates: aggregates, tenants: tenants, clock: clock)
    }

    @Test("remaining equals the immediate admits that follow", arguments: [1, 3, 10, 60])
    func remainingMatchesAdmits(burst: Int) async throws {
        let clock = FixedClock(instant("2026-01-01T00:00:00Z"))
        let limits = try limiter(RateLimitRule(rate: 60, per: .seconds(60), burst: burst), clock: clock)
        let first = try await limits.acquire(tenantID: "acme-corp")
        var admits = 0
        while try await limits.acquire(tenantID: "acme-corp").allowed {
            admits += 1
        }
        #expect(first.remaining == admits)
        #expect(admits == burst - 1)
    }

    @Test("refused decision has Retry-After and t within the window")
    func refusedHeaders() async throws {
        let clock = FixedClock(instant("2026-01-01T00:00:00Z"))
        let limits = try limiter(RateLimitRule(rate: 10, per: .seconds(60), burst: 5, name: "free"), clock: clock)
        for _ in 0..<5 { _ = try await limits.acquire(tenantID: "acme-corp") }
        clock.advance(by: .seconds(1))
        let refused = try await limits.acquire(tenantID: "acme-corp")
        #expect(refused.allowed == false)
        #expect(refused.remaining == 0)
        #expect(refused.windowSeconds == 30)
        #expect(refused.retryAfterSeconds == 5)
        #expect(refused.resetSeconds == 29)
        let fields = refused.headerFields
        #expect(fields.map(\.name) == ["RateLimit-Policy", "RateLimit", "Retry-After"])
        #expect(fields.map(\.value) == ["\"free\";q=5;w=30", "\"free\";r=0;t=29", "5"])

        clock.advance(by: .seconds(5))
        #expect(try await limits.acquire(tenantID: "acme-corp").allowed)
    }

    @Test("Retry-After and t stay in (0, w] while refused")
    func boundsWhileRefused() async throws {
        let clock = FixedClock(instant("2026-01-01T00:00:00Z"))
        let limits = try limiter(RateLimitRule(rate: 7, per: .seconds(10), burst: 3), clock: clock)
        var refusals = 0
        for step in 0..<200 {
            let decision = try await limits.acquire(tenantID: "acme-corp", cost: 1 + step % 3)
            if !decision.allowed {
                refusals += 1
                let retry = try #require(decision.retryAfterSeconds)
                #expect(retry > 0, "retry \(retry) at step \(step)")
                #expect(retry <= decision.windowSeconds, "retry \(retry) at step \(step)")
                #expect(decision.resetSeconds > 0, "t at step \(step)")
                #expect(decision.resetSeconds <= decision.windowSeconds, "t at step \(step)")
            }
            clock.advance(by: .milliseconds(173))
        }
        #expect(refusals > 0)
    }

    @Test("rate 0 and burst 0 are rejected at configuration")
    func invalidRules() {
        #expect(throws: ValidationError.self) { try RateLimitRule(rate: 0) }
        #expect(throws: ValidationError.self) { try RateLimitRule(rate: 10, burst: 0) }
        #expect(throws: ValidationError.self) { try RateLimitRule(rate: -5) }
        #expect(throws: ValidationError.self) { try RateLimitRule(rate: 1, per: .seconds(86_400), burst: 100_000) }
        #expect(throws: ValidationError.self) { try RateLimitRule(rate: 2_000_000_000, per: .seconds(1)) }
    }

    @Test("rates from 1 per day to 1,000,000 per second are accepted")
    func rateRange() throws {
        #expect(try RateLimitRule(rate: 1, per: .seconds(86_400)).bucket.emissionInterval == 86_400_000_000_000)
        #expect(try RateLimitRule(rate: 1_000_000, per: .seconds(1)).bucket.emissionInterval == 1_000)
    }

    @Test("cost above burst is refused with remaining 0 and no state change")
    func costAboveBurst() async throws {
        let clock = FixedClock(instant("2026-01-01T00:00:00Z"))
        let limits = try limiter(RateLimitRule(rate: 10, per: .seconds(10), burst: 4), clock: clock)
        let refused = try await limits.acquire(tenantID: "acme-corp", cost: 5)
        #expect(refused.allowed == false)
        #expect(refused.remaining == 0)
        #expect(refused.retryAfterSeconds == nil)
        #expect(refused.headerFields.count == 2)
        let next = try await limits.acquire(tenantID: "acme-corp", cost: 4)
        #expect(next.allowed)
        #expect(next.remaining == 0)
    }

    @Test("500,000 per second admits exactly the refilled units")
    func highRate() async throws {
        let clock = FixedClock(instant("2026-01-01T00:00:00Z"))
        let limits = try limiter(RateLimitRule(rate: 500_000, per: .seconds(1)), clock: clock)
        let first = try await limits.acquire(tenantID: "acme-corp", cost: 500_000)
        #expect(first.allowed)
        #expect(first.remaining == 0)
        #expect(first.windowSeconds == 1)
        #expect(try await limits.acquire(tenantID: "acme-corp").allowed == false)
        clock.advance(by: .milliseconds(1))
        let refilled = try await limits.acquire(tenantID: "acme-corp", cost: 500)
        #expect(refilled.allowed)
        #expect(refilled.remaining == 0)
        #expect(try await limits.acquire(tenantID: "acme-corp").allowed == false)
    }

    @Test("tier rule, unknown tenants and aggregates")
    func registryAndAggregates() async throws {
        let manager = TenantManager()
        try await manager.createTenant(name: "One", tier: .free, adminEmail: "ops@one.example", id: "tenant-one")
        try await manager.createTenant(name: "Two", tier: .free, adminEmail: "ops@two.example", id: "tenant-two")
        let clock = FixedClock(instant("2026-01-01T00:00:00Z"))
        let store = InMemoryRateLimitStore()
        let aggregates = try RateLimitAggregates(perTier: [.free: try RateLimitRule(rate: 30, per: .seconds(60))])
        let limits = try RateLimiter(aggregates: aggregates, store: store, tenants: manager.store, clock: clock)

        let first = try await limits.acquire(tenantID: "tenant-one")
        #expect(first.policyName == "free")
        #expect(first.limit == 20)
        #expect(first.remaining == 19)
        for _ in 0..<19 { _ = try await limits.acquire(tenantID: "tenant-one") }
        var second = 0
        while try await limits.acquire(tenantID: "tenant-two").allowed { second += 1 }
        #expect(second == 10)

        await #expect(throws: TenantNotFoundError.self) { try await limits.acquire(tenantID: "ghost-co") }
        #expect(try await store.purge("ghost-co") == 0)
    }

    @Test("invalid key and cost are rejected")
    func invalidInput() async throws {
        let limits = try limiter(RateLimitRule(rate: 10), clock: FixedClock(instant("2026-01-01T00:00:00Z")))
        await #expect(throws: ValidationError.self) { try await limits.acquire(tenantID: "acme-corp", key: "API Key") }
        await #expect(throws: ValidationError.self) { try await limits.acquire(tenantID: "acme-corp", cost: 0) }
        await #expect(throws: ValidationError.self) { try await limits.acquire(tenantID: "acme-corp", key: "export") }
    }
}
