import Foundation
import Tenancy
import TenancyTesting
import Testing

@Suite("Quota manager")
struct QuotaManagerTests {
    @Test("64 tasks get exactly the limit")
    func concurrentTasksExact() async throws {
        let (quotas, _, _) = try standaloneQuotas(QuotaConfig(limits: [QuotaLimit(name: "jobs", limit: 1_000, period: .day)]))
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    var admitted = 0
                    for _ in 0..<20 {
                        do {
                            try await quotas.checkAndIncrement("jobs", tenantID: "acme-corp")
                            admitted += 1
                        } catch is QuotaExceeded {}
                    }
                    return admitted
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(admitted == 1_000)
        let usage = try await quotas.usage(tenantID: "acme-corp")
        #expect(usage.first?.used == 1_000)
        #expect(usage.first?.status == .exhausted)
    }

    @Test("exhausted own quota leaves the shared counter unchanged")
    func allOrNothing() async throws {
        let config = QuotaConfig(limits: [
            QuotaLimit(name: "exports", limit: 1, period: .minute),
            QuotaLimit(name: "shared_calls", limit: 5, period: .minute),
        ])
        let (quotas, _, store) = try standaloneQuotas(config)
        try await quotas.checkAndIncrement(["exports", "shared_calls"], tenantID: "acme-corp")

        let error = await thrownError { try await quotas.checkAndIncrement(["shared_calls", "exports"], tenantID: "acme-corp") }
        let exceeded = try #require(error as? QuotaExceeded)
        #expect(exceeded.quotaName == "exports")
        let window = QuotaPeriod.minute.window(containing: instant("2026-01-01T00:00:00Z"), in: TimeZone(identifier: "UTC")!)
        let shared = QuotaCounterKey(subject: .tenant("acme-corp"), quota: "shared_calls", period: .minute)
        #expect(try await store.used([(shared, window)]) == [1])
    }

    @Test("charge above the limit stores nothing")
    func chargeAboveLimit() async throws {
        let (quotas, _, _) = try standaloneQuotas(QuotaConfig(maxDebatesPerDay: 10))
        let error = await thrownError { try await quotas.checkAndIncrement("debates", tenantID: "acme-corp", by: 11) }
        let exceeded = try #require(error as? QuotaExceeded)
        #expect(exceeded.used == 0)
        #expect(exceeded.requested == 11)
        #expect(exceeded.limit == 10)
        #expect(exceeded.retryAfter == nil)
        #expect(try await quotas.usage(tenantID: "acme-corp").first?.used == 0)
        try await quotas.checkAndIncrement("debates", tenantID: "acme-corp", by: 10)
    }

    @Test("QuotaExceeded carries the window's retry-after")
    func exceededFields() async throws {
        let (quotas, _, _) = try standaloneQuotas(QuotaConfig(maxAPICallsPerHour: 2), at: "2026-01-01T10:45:00Z")
        try await quotas.checkAndIncrement("api_requests", tenantID: "acme-corp", by: 2)
        let error = await thrownError { try await quotas.checkAndIncrement("api_requests", tenantID: "acme-corp") }
        let exceeded = try #require(error as? QuotaExceeded)
        #expect(exceeded.quotaName == "api_requests")
        #expect(exceeded.period == .hour)
        #expect(exceeded.used == 2)
        #expect(exceeded.requested == 1)
        #expect(exceeded.tenantID == "acme-corp")
        #expect(exceeded.retryAfter == .seconds(15 * 60))
        #expect(exceeded.resetsAt == instant("2026-01-01T11:00:00Z"))
    }

    @Test("refund restores usage once and skips rolled-over windows")
    func refundSemantics() async throws {
        let (quotas, clock, _) = try standaloneQuotas(QuotaConfig(limits: [QuotaLimit(name: "jobs", limit: 10, period: .minute)]))
        try await quotas.checkAndIncrement("jobs", tenantID: "acme-corp", by: 2)
        let failed = try await quotas.checkAndIncrement("jobs", tenantID: "acme-corp", by: 3)
        #expect(try await quotas.refund(failed))
        #expect(try await quotas.usage(tenantID: "acme-corp").first?.used == 2)
        #expect(try await quotas.refund(failed) == false)
        #expect(try await quotas.usage(tenantID: "acme-corp").first?.used == 2)

        let late = try await quotas.checkAndIncrement("jobs", tenantID: "acme-corp", by: 4)
        clock.advance(by: .seconds(60))
        try await quotas.checkAndIncrement("jobs", tenantID: "acme-corp", by: 1)
        #expect(try await quotas.refund(late))
        #expect(try await quotas.usage(tenantID: "acme-corp").first?.used == 1)
    }

    @Test("gauge decrements never go below zero")
    func gaugeDecrement() async throws {
        let (quotas, _, _) = try standaloneQuotas(QuotaConfig(maxStorageBytes: 1_000))
        try await quotas.checkAndIncrement("storage_bytes", tenantID: "acme-corp", by: 600)
        #expect(try await quotas.decrement("storage_bytes", tenantID: "acme-corp", by: 100) == 500)
        #expect(try await quotas.decrement("storage_bytes", tenantID: "acme-corp", by: 9_000) == 0)
        let error = await thrownError { try await quotas.decrement("debates", tenantID: "acme-corp", by: 1) }
        #expect((error as? ValidationError)?.code == .invalidArgument)
    }

    @Test("Berlin day quota resets at local midnight on DST days", arguments: [
        ("2026-03-29T21:59:59Z", "2026-03-29T22:00:00Z"),
        ("2026-10-25T22:59:59Z", "2026-10-25T23:00:00Z"),
    ])
    func berlinDayReset(lastInstant: String, resetInstant: String) async throws {
        let manager = TenantManager(clock: FixedClock(instant("2026-01-01T00:00:00Z")))
        try await manager.createTenant(
            name: "Berlin", tier: .free, adminEmail: "ops@berlin.example", id: "berlin-gmbh", timeZone: "Europe/Berlin")
        let clock = FixedClock(instant(lastInstant))
        let quotas = try QuotaManager(store: InMemoryQuotaStore(), tenants: manager.store, clock: clock)
        try await quotas.checkAndIncrement("debates", tenantID: "berlin-gmbh", by: 10)
        let refused = await thrownError { try await quotas.checkAndIncrement("debates", tenantID: "berlin-gmbh") }
        #expect((refused as? QuotaExceeded)?.resetsAt == instant(resetInstant))
        #expect((refused as? QuotaExceeded)?.retryAfter == .seconds(1))

        clock.set(instant(resetInstant))
        try await quotas.checkAndIncrement("debates", tenantID: "berlin-gmbh")
    }

    @Test("Tokyo day window resets at Tokyo midnight")
    func tokyoMidnight() async throws {
        let manager = TenantManager()
        try await manager.createTenant(
            name: "Tokyo", tier: .free, adminEmail: "ops@tokyo.example", id: "tokyo-kk", timeZone: "Asia/Tokyo")
        let clock = FixedClock(instant("2026-01-01T14:59:59Z"))
        let quotas = try QuotaManager(tenants: manager.store, clock: clock)
        try await quotas.checkAndIncrement("debates", tenantID: "tokyo-kk", by: 10)
        let usage = try await quotas.usage(tenantID: "tokyo-kk").first { $0.quota == "debates" }
        #expect(usage?.resetsAt == instant("2026-01-01T15:00:00Z"))
        clock.set(instant("2026-01-01T15:00:00Z"))
        try await quotas.checkAndIncrement("debates", tenantID: "tokyo-kk", by: 10)
    }

    @Test("unknown and suspended tenants are refused with no counter")
    func registryRefusals() async throws {
        let manager = TenantManager()
        try await manager.createTenant(name: "Paused", tier: .business, adminEmail: "ops@paused.example", id: "paused-co")
        try await manager.updateStatus("paused-co", to: .suspended, reason: "billing")
        let store = InMemoryQuotaStore()
        let quotas = try QuotaManager(store: store, tenants: manager.store)

        let unknown = await thrownError { try await quotas.checkAndIncrement("debates", tenantID: "ghost-co") }
        #expect(unknown is TenantNotFoundError)
        let suspended = await thrownError { try await quotas.checkAndIncrement("debates", tenantID: "paused-co") }
        #expect(suspended is TenantSuspendedError)
        let lease = await thrownError { _ = try await quotas.acquire(tenantID: "paused-co") }
        #expect(lease is TenantSuspendedError)
        #expect(try await store.purge("ghost-co") == 0)
        #expect(try await store.purge("paused-co") == 0)
    }

    @Test("override, tier default and config cap")
    func effectiveLimits() async throws {
        let manager = TenantManager()
        var config = TenantConfig()
        config.maxDebatesPerDay = 500
        try await manager.createTenant(name: "Big", tier: .business, adminEmail: "ops@big.example", id: "big-co", config: config)
        try await manager.createTenant(name: "Small", tier: .free, adminEmail: "ops@small.example", id: "small-co")
        let quotas = try QuotaManager(QuotaConfig(maxDebatesPerDay: 300), tenants: manager.store)

        let big = try await quotas.usage(tenantID: "big-co").first { $0.quota == "debates" }
        let small = try await quotas.usage(tenantID: "small-co").first { $0.quota == "debates" }
        #expect(big?.limit == 300)
        #expect(small?.limit == 10)
        let periods = try await quotas.usage(tenantID: "small-co").filter { $0.quota == "api_requests" }.map(\.period)
        #expect(periods == [.minute, .day])
    }

    @Test("two tenants of one tier never share a counter")
    func separateCounters() async throws {
        let manager = TenantManager()
        try await manager.createTenant(name: "One", tier: .free, adminEmail: "ops@one.example", id: "tenant-one")
        try await manager.createTenant(name: "Two", tier: .free, adminEmail: "ops@two.example", id: "tenant-two")
        let quotas = try QuotaManager(tenants: manager.store)
        try await quotas.checkAndIncrement("debates", tenantID: "tenant-one", by: 10)
        try await quotas.checkAndIncrement("debates", tenantID: "tenant-two", by: 10)
        let one = await thrownError { try await quotas.checkAndIncrement("debates", tenantID: "tenant-one") }
        #expect((one as? QuotaExceeded)?.subject == .tenant("tenant-one"))
    }

    @Test("100 tenants cannot pass the tier aggregate")
    func tierAggregate() async throws {
        let manager = TenantManager()
        for index in 0..<100 {
            try await manager.createTenant(name: "T\(index)", tier: .starter, adminEmail: "ops@t.example", id: try TenantID(validating: "tenant-\(index)"))
        }
        let config = QuotaConfig(aggregates: [QuotaAggregateLimit(.tier(.starter), QuotaLimit(name: "debates", limit: 120, period: .day))])
        let quotas = try QuotaManager(config, tenants: manager.store)
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<100 {
                group.addTask {
                    var admitted = 0
                    for _ in 0..<5 {
                        do {
                            try await quotas.checkAndIncrement("debates", tenantID: try TenantID(validating: "tenant-\(index)"))
                            admitted += 1
                        } catch let error as QuotaExceeded where error.subject == .tier(.starter) {}
                    }
                    return admitted
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(admitted == 120)
    }

    @Test("standalone charge includes the global aggregate")
    func standaloneGlobalAggregate() async throws {
        let config = QuotaConfig(
            limits: [QuotaLimit(name: "debates", limit: 10, period: .day)],
            aggregates: [QuotaAggregateLimit(.global, QuotaLimit(name: "debates", limit: 3, period: .day))])
        let (quotas, _, store) = try standaloneQuotas(config)
        let first = try await quotas.checkAndIncrement("debates", tenantID: "tenant-one", by: 2)
        #expect(first.lines.map(\.key.subject) == [.tenant("tenant-one"), .global])
        #expect(first.usedAfter == [2, 2])
        try await quotas.checkAndIncrement("debates", tenantID: "tenant-two")

        let error = await thrownError { try await quotas.checkAndIncrement("debates", tenantID: "tenant-two") }
        let exceeded = try #require(error as? QuotaExceeded)
        #expect(exceeded.subject == .global)
        #expect(exceeded.used == 3)
        #expect(exceeded.limit == 3)
        #expect(exceeded.retryAfter == .seconds(86_400))

        #expect(try await quotas.refund(first))
        let day = QuotaPeriod.day.window(containing: instant("2026-01-01T00:00:00Z"), in: TimeZone(identifier: "UTC")!)
        let global = QuotaCounterKey(subject: .global, quota: "debates", period: .day)
        let two = QuotaCounterKey(subject: .tenant("tenant-two"), quota: "debates", period: .day)
        #expect(try await store.used([(global, day), (two, day)]) == [1, 1])
    }

    @Test("standalone day counter resets at UTC midnight")
    func standaloneDayRollover() async throws {
        let (quotas, clock, _) = try standaloneQuotas(QuotaConfig(maxDebatesPerDay: 2), at: "2026-01-01T23:59:59Z")
        try await quotas.checkAndIncrement("debates", tenantID: "acme-corp", by: 2)
        let error = await thrownError { try await quotas.checkAndIncrement("debates", tenantID: "acme-corp") }
        #expect((error as? QuotaExceeded)?.retryAfter == .seconds(1))
        clock.advance(by: .seconds(1))
        let charge = try await quotas.checkAndIncrement("debates", tenantID: "acme-corp")
        #expect(charge.usedAfter == [1])
        #expect(charge.lines.first?.window.startMilliseconds == milliseconds("2026-01-02T00:00:00Z"))
    }

    @Test("charges survive a JSON round trip", arguments: [1, 2])
    func chargeCoding(quotaCount: Int) async throws {
        let (quotas, _, _) = try standaloneQuotas(QuotaConfig(maxDebatesPerDay: 5, maxAPICallsPerHour: 5))
        let charge = quotaCount == 1
            ? try await quotas.checkAndIncrement("debates", tenantID: "acme-corp", by: 2)
            : try await quotas.checkAndIncrement(["debates": 2, "api_requests": 3], tenantID: "acme-corp")
        #expect(charge.lines.count == quotaCount)
        let data = try JSONEncoder().encode(charge)
        let decoded = try JSONDecoder().decode(QuotaCharge.self, from: data)
        #expect(decoded == charge)
        #expect(decoded.hashValue == charge.hashValue)
        #expect(decoded.lines == charge.lines)
        #expect(decoded.usedAfter == charge.usedAfter)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["id", "tenantID", "lines", "chargedAt", "usedAfter"])
        #expect(try await quotas.refund(decoded))
        #expect(try await quotas.usage(tenantID: "acme-corp").map(\.used) == [0, 0])
    }

    @Test("lower tiers are shed near the global budget")
    func shedding() async throws {
        let manager = TenantManager()
        try await manager.createTenant(name: "Free", tier: .free, adminEmail: "ops@free.example", id: "free-co")
        try await manager.createTenant(name: "Ent", tier: .enterprise, adminEmail: "ops@ent.example", id: "ent-co")
        let config = QuotaConfig(
            aggregates: [QuotaAggregateLimit(.global, QuotaLimit(name: "tokens", limit: 1_000, period: .month))],
            shedding: QuotaShedding(thresholdPercent: 80, protectedTier: .business))
        let quotas = try QuotaManager(config, tenants: manager.store)
        try await quotas.checkAndIncrement("tokens", tenantID: "free-co", by: 800)
        let shed = await thrownError { try await quotas.checkAndIncrement("tokens", tenantID: "free-co") }
        #expect((shed as? QuotaExceeded)?.shed == true)
        #expect((shed as? QuotaExceeded)?.limit == 800)
        try await quotas.checkAndIncrement("tokens", tenantID: "ent-co", by: 200)
    }

    @Test("leases hold slots until release or expiry")
    func leases() async throws {
        let (quotas, clock, _) = try standaloneQuotas(QuotaConfig(leaseLimits: [QuotaLeaseLimit(name: "concurrent_debates", limit: 1)]))
        let lease = try await quotas.acquire(tenantID: "acme-corp", timeToLive: .seconds(30))
        let refused = await thrownError { _ = try await quotas.acquire(tenantID: "acme-corp") }
        #expect((refused as? QuotaExceeded)?.used == 1)
        #expect(try await lease.release())
        #expect(try await lease.release() == false)

        _ = try await quotas.acquire(tenantID: "acme-corp", timeToLive: .seconds(30))
        clock.advance(by: .seconds(30))
        let result = try await quotas.withLease(tenantID: "acme-corp") { _ in 42 }
        #expect(result == 42)
        let afterThrow = await thrownError { try await quotas.withLease(tenantID: "acme-corp") { _ in throw CancellationError() } }
        #expect(afterThrow is CancellationError)
        #expect(try await quotas.usage(tenantID: "acme-corp").first?.used == 0)
    }

    @Test("usage percentage, warning and limit 0")
    func usageStatus() {
        #expect(QuotaUsage(quota: "q", period: .day, used: 7, limit: 10, resetsAt: nil).status == .ok)
        #expect(QuotaUsage(quota: "q", period: .day, used: 8, limit: 10, resetsAt: nil).status == .warning)
        #expect(QuotaUsage(quota: "q", period: .day, used: 8, limit: 10, resetsAt: nil).percentage == 80)
        #expect(QuotaUsage(quota: "q", period: .day, used: 10, limit: 10, resetsAt: nil).status == .exhausted)
        #expect(QuotaUsage(quota: "q", period: .day, used: 0, limit: 0, resetsAt: nil).status == .exhausted)
        #expect(QuotaUsage(quota: "q", period: .day, used: 0, limit: 0, resetsAt: nil).percentage == 100)
    }

    @Test("reset removes one quota's counters")
    func resetQuota() async throws {
        let (quotas, _, _) = try standaloneQuotas(QuotaConfig(maxDebatesPerDay: 5, maxAPICallsPerHour: 5))
        try await quotas.checkAndIncrement(["debates": 5, "api_requests": 2], tenantID: "acme-corp")
        #expect(try await quotas.reset(tenantID: "acme-corp", quota: "debates") == 1)
        let usage = try await quotas.usage(tenantID: "acme-corp")
        #expect(usage.map(\.used) == [0, 2])
    }

    @Test("bad input is rejected and changes nothing", arguments: [
        ("debates", 0), ("debates", -3), ("no_such_quota", 1), ("Bad Name", 1), ("debates", QuotaConfig.maximumAmount + 1),
    ])
    func badInput(quota: String, amount: Int) async throws {
        let (quotas, _, store) = try standaloneQuotas(QuotaConfig(maxDebatesPerDay: 5))
        let error = await thrownError { try await quotas.checkAndIncrement(quota, tenantID: "acme-corp", by: amount) }
        let validation = try #require(error as? ValidationError)
        #expect(validation.code == .invalidArgument)
        #expect(validation.message.contains(amount <= 0 || amount > QuotaConfig.maximumAmount ? "\(amount)" : quota))
        #expect(try await store.purge("acme-corp") == 0)
    }

    @Test("invalid tenant ids and configs are rejected")
    func invalidIDAndConfig() throws {
        #expect(throws: ValidationError.self) { try TenantID(validating: "Acme Corp") }
        #expect(throws: ValidationError.self) { try QuotaManager(QuotaConfig(maxDebatesPerDay: -1)) }
        #expect(throws: ValidationError.self) {
            try QuotaManager(QuotaConfig(limits: [QuotaLimit(name: "x", limit: 1, period: .day), QuotaLimit(name: "x", limit: 2, period: .day)]))
        }
        #expect(throws: ValidationError.self) {
            try QuotaManager(QuotaConfig(shedding: QuotaShedding(thresholdPercent: 0, protectedTier: .business)))
        }
    }

    @Test("quota purger removes the tenant's counters")
    func purger() async throws {
        let (quotas, _, store) = try standaloneQuotas(QuotaConfig(maxDebatesPerDay: 5))
        try await quotas.checkAndIncrement("debates", tenantID: "acme-corp")
        #expect(try await QuotaPurger(store: store).purge("acme-corp") == 1)
        #expect(try await quotas.usage(tenantID: "acme-corp").first?.used == 0)
    }
}
