import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// Attacks on the C binding check of the `tenancy_binding` library. Each test states the
/// behavior the threat model requires, so it fails while the attack works.
@Suite("PostgreSQL binding library attacks", .serialized)
struct PostgresBindingLibraryBreakerTests {
    /// A DO block that runs COMMIT ends the transaction that called `bind_tenant`, so the
    /// commit-time reset runs there. The rest of the block runs in a new transaction that never
    /// called `bind_tenant`, and nothing resets the session when that one commits.
    @Test("DO block with COMMIT leaves settings")
    func doBlockCommitLeavesSettings() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            try await asA.execute("""
                DO $$ BEGIN
                    COMMIT;
                    PERFORM pg_catalog.set_config('statement_timeout', '1234', false);
                    PERFORM pg_catalog.set_config('search_path', 'tenant_a_path', false);
                    PERFORM pg_catalog.set_config('default_transaction_read_only', 'on', false);
                    PERFORM pg_catalog.pg_advisory_lock(7340001);
                END $$
                """)

            // The pool has one connection, so B's next statement runs on the session A used.
            let rows = try await asB.query("""
                SELECT pg_catalog.current_setting('statement_timeout') AS statement_timeout,
                    pg_catalog.current_setting('search_path') AS search_path,
                    pg_catalog.current_setting('default_transaction_read_only') AS read_only,
                    (SELECT pg_catalog.count(*) FROM pg_catalog.pg_locks
                        WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()) AS advisory_locks
                """)
            #expect(try rows[0].text("statement_timeout") == "0")
            #expect(try rows[0].text("search_path") == "\"$user\", public")
            #expect(try rows[0].text("read_only") == "off")
            #expect(try rows[0].integer("advisory_locks") == 0)
        }
    }

    /// The same trick with `default_transaction_read_only` makes B's next write fail.
    @Test("DO block with COMMIT blocks next write")
    func doBlockCommitBlocksNextWrite() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            try await asA.execute("""
                DO $$ BEGIN COMMIT; PERFORM pg_catalog.set_config('default_transaction_read_only', 'on', false); END $$
                """)

            await #expect(throws: Never.self) {
                try await asB.execute("INSERT INTO \(unsafeSQL: fixture.items) (tenant_id, id) VALUES (\(fixture.tenantB), 'b2')")
            }
        }
    }

    /// The library keeps one key and one bound tenant per backend, not per schema. So a tag signed
    /// with another installation's secret binds this installation's policies.
    @Test("tag of another schema's secret binds")
    func otherSchemaSecretBinds() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (first: RowLevelSecurityFixture) async throws in
            try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (second: RowLevelSecurityFixture) async throws in
                let minute = try await first.serverMinute()
                let tenant = first.tenantA.rawValue
                let tagOfSecond = second.secret.tag(tenant: tenant, minute: minute)

                // On the first installation's pool, bind through the second's function once, which
                // loads the second secret, then bind through the first's function with that tag.
                let bindSecond = PostgresStatement("SELECT \(second.rls.quotedSchema).bind_tenant($1, $2)", [.text(tenant), .text(tagOfSecond)])
                _ = try await first.pool.pipeline([bindSecond])
                let bindFirst = PostgresStatement("SELECT \(first.rls.quotedSchema).bind_tenant($1, $2)", [.text(tenant), .text(tagOfSecond)])
                let read = PostgresStatement("SELECT id FROM \(first.items) ORDER BY id")
                var rows: [String] = []
                do {
                    rows = try await first.pool.pipeline([bindFirst, read])[1].rows.map { try $0.text("id") }
                } catch {
                    // Rejecting the foreign tag is the expected outcome.
                }
                #expect(rows.isEmpty, "a tag signed with the other schema's secret read \(rows)")

                // The first installation's own tags must still verify on that connection.
                await #expect(throws: Never.self) {
                    _ = try await first.itemIDs(as: first.tenantA)
                }
            }
        }
    }

    /// `lastval()` and `currval()` are session state that the commit-time reset leaves, so the
    /// next tenant on the connection reads the id the database generated for the previous one.
    @Test("lastval shows previous tenant's id")
    func lastvalShowsPreviousTenantID() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let owner = try await PostgresTestServer.owner()
            let orders = "\(fixture.rls.quotedSchema).orders"
            try await owner.execute("CREATE TABLE \(orders) (tenant_id text COLLATE \"C\" NOT NULL, id serial, PRIMARY KEY (tenant_id, id))")
            try await fixture.rls.protect(table: "orders", schema: fixture.rls.schema, owner: owner, applicationRole: fixture.pool.configuration.user)
            try await owner.execute("GRANT USAGE ON SEQUENCE \(fixture.rls.quotedSchema).orders_id_seq TO \(try PostgresIdentifier.quoted(fixture.pool.configuration.user))")

            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            let inserted = try await asB.query("INSERT INTO \(unsafeSQL: orders) (tenant_id) VALUES (\(fixture.tenantB)) RETURNING id")
            let idOfB = try inserted[0].integer("id")

            // A session that never called nextval() gets an error from lastval(), which is the
            // expected outcome here.
            var seenByA: Int64?
            do {
                seenByA = try await asA.query("SELECT pg_catalog.lastval() AS id")[0].integer("id")
            } catch {}
            #expect(seenByA == nil, "tenant A read tenant B's generated id \(idOfB) with lastval()")
        }
    }
}
