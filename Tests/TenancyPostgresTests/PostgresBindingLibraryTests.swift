import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// The C binding check of the `tenancy_binding` library.
@Suite("PostgreSQL binding library", .serialized)
struct PostgresBindingLibraryTests {
    @Test("each tenant reads only its own rows through the C check")
    func isolation() async throws {
        try await RowLevelSecurityFixture.with(check: .library) { (fixture: RowLevelSecurityFixture) async throws in
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
            #expect(try await fixture.tenants.queryWithoutTenant("SELECT id FROM \(unsafeSQL: fixture.items)").count == 0)
        }
    }
}
