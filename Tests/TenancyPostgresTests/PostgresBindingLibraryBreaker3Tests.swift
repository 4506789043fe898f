import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// A third round of attacks on the C binding check of the `tenancy_binding` library. Each test
/// states what the threat model requires, so it fails if its attack works again. Tenant SQL must
/// not read other tenants' rows or the library's tables, also not through the planner's
/// estimates, and must leave nothing on the pooled session that changes the next statement.
@Suite("PostgreSQL binding library attacks, third round", .serialized)
struct PostgresBindingLibraryBreaker3Tests {
    /// An uncaught error in a `DO` block aborts the transaction while the block's SPI
    /// connection, which is nonatomic, is still the current one, so the reset stays pending
    /// past the transaction. The next statement, the library's own on that pooled connection
    /// (a registry lookup, a quota decision), must not be treated as tenant SQL.
    @Test("library tables readable after failed DO")
    func failedDoBlockLeavesLibraryTablesReadable() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            try await PostgresTestServer.withRegistrySchema { registry in
                let tenants = "\(try PostgresIdentifier.quoted(registry.name)).tenancy_tenants"
                let protectedTables = "\(fixture.rls.quotedSchema).rls_tables"
                let asA = fixture.tenants.handle(forID: fixture.tenantA)

                await #expect(throws: PostgresError.self) {
                    try await asA.execute("DO $$ BEGIN RAISE EXCEPTION 'tenant statement failed'; END $$")
                }
                // The pool has one connection, so this runs on the session A's statement used.
                await #expect(throws: Never.self, "the registry read after A's failed DO block was rejected") {
                    _ = try await fixture.pool.query("SELECT count(*) AS n FROM \(tenants)")
                }

                await #expect(throws: PostgresError.self) {
                    try await asA.execute("DO $$ BEGIN PERFORM 1 / 0; END $$")
                }
                await #expect(throws: Never.self, "the read of the protected-table list after A's failed DO block was rejected") {
                    _ = try await fixture.pool.query("SELECT count(*) AS n FROM \(protectedTables)")
                }
            }
        }
    }

    /// The planner reads the column statistics of a protected table through the system
    /// cache, and for a leakproof operator such as text equality PostgreSQL 15 uses the most
    /// common values and histograms of all tenants' rows even under row-level security. So
    /// `EXPLAIN` would show A how many rows B has and whether a guessed value is common among
    /// other tenants' rows, and `EXPLAIN ANALYZE` would count the rows the policy filtered out
    /// ("Rows Removed by Filter"). The C check rejects `EXPLAIN` in a tenant transaction.
    @Test("EXPLAIN is rejected in tenant SQL", arguments: [
        "EXPLAIN SELECT * FROM %@ WHERE tenant_id = 'beta-corp'",
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM %@ WHERE note <> ''",
        "DO $$ DECLARE line text; BEGIN FOR line IN EXECUTE 'EXPLAIN SELECT * FROM %@' LOOP END LOOP; END $$",
    ])
    func explainIsRejected(_ template: String) async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            try await asB.execute("""
                INSERT INTO \(unsafeSQL: fixture.items) (tenant_id, id, note)
                SELECT \(fixture.tenantB), 'x' || i, 'note ' || i FROM pg_catalog.generate_series(1, 3000) AS i
                """)
            try await PostgresTestServer.owner().execute("ANALYZE \(fixture.items)")

            let sql = template.replacingOccurrences(of: "%@", with: fixture.items)
            let error = await #expect(throws: PostgresError.self) {
                _ = try await fixture.tenants.handle(forID: fixture.tenantA).query(PostgresQuery(unsafeSQL: sql))
            }
            #expect(error?.code == .insufficientPrivilege)
            #expect(error?.serverMessage == "tenancy binding: a tenant transaction cannot run EXPLAIN")
            // The library's own statements, which bind no tenant, may still explain.
            let plan = try await fixture.pool.query(PostgresQuery(unsafeSQL: "EXPLAIN SELECT 1").sql)
            #expect(!plan.isEmpty)
        }
    }

    /// Each statement of a tenant transaction binds again, and a verified binding moves the
    /// termination timer to its own end, so a transaction of short statements may outlast
    /// twice the time limit while no single statement does.
    @Test("transaction of short statements outlasts the timer")
    func longTransactionOfShortStatements() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            var configuration = fixture.pool.configuration
            configuration.statementTimeLimit = .seconds(1)
            let limited = try PostgresDatabase(configuration, maximumConnections: 1)
            let tenants = try await PostgresTenantDatabase(limited, binding: .verified(fixture.secret), rowLevelSecurity: fixture.rls)
            // The timer ends the backend 3 seconds after a binding; four statements of 0.9
            // seconds take longer than that.
            let pids = try await tenants.handle(forID: fixture.tenantA).transaction { transaction in
                try (0..<4).map { _ in try transaction.query("SELECT pg_catalog.pg_backend_pid() AS pid, pg_catalog.pg_sleep(0.9)")[0].integer("pid") }
            }
            await limited.close()
            #expect(Set(pids).count == 1)
            #expect(pids.count == 4)
        }
    }
}
