import Foundation
import Testing
import Tenancy
import TenancyTesting

let traitTenant = Tenant(
    id: "trait-tenant", name: "Trait Tenant", tier: .starter, createdAt: Date(millisecondsSince1970: 0))

// `Principal(id:kind:)` throws only for an invalid id, and "svc-1" is valid.
let traitPrincipal = try! Principal(id: "svc-1", kind: .service)

@Suite("FixedClock")
struct FixedClockTests {
    @Test("Clock returns one instant until moved")
    func standsStill() {
        let clock = FixedClock(startDate)
        #expect(clock.now() == startDate)
        #expect(clock.now() == startDate)
    }

    @Test("advance moves forward by the duration")
    func advance() {
        let clock = FixedClock(startDate)
        clock.advance(by: .milliseconds(1_500))
        #expect(clock.now().millisecondsSince1970 == 1_767_225_601_500)
        clock.advance(by: oneDay)
        #expect(clock.now().millisecondsSince1970 == 1_767_312_001_500)
    }

    @Test("set moves to any date")
    func set() {
        let clock = FixedClock(startDate)
        let earlier = Date(millisecondsSince1970: 1_000)
        clock.set(earlier)
        #expect(clock.now() == earlier)
    }
}

@Suite("Tenant trait")
struct TenantTraitTests {
    @Test("Trait binds the tenant around the test", .tenant(traitTenant))
    func bindsTenant() throws {
        #expect(currentTenant() == traitTenant)
        #expect(try requireCurrentTenant().id == "trait-tenant")
    }

    @Test("Trait binds the principal", .tenant(traitTenant, principal: traitPrincipal))
    func bindsPrincipal() {
        #expect(currentPrincipal()?.id == "svc-1")
        #expect(currentTenant()?.id == "trait-tenant")
    }

    @Test("Test without the trait has no tenant")
    func withoutTrait() {
        #expect(currentTenant() == nil)
    }
}

@Suite("Tenant trait on a suite", .tenant(traitTenant))
struct TenantSuiteTraitTests {
    @Test("Suite trait binds the tenant in each test")
    func first() {
        #expect(currentTenant()?.id == "trait-tenant")
    }

    @Test("Suite trait covers parameterized tests", arguments: [1, 2])
    func parameterized(value _: Int) {
        #expect(currentTenant()?.id == "trait-tenant")
    }
}
