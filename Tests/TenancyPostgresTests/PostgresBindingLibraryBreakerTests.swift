import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// Attacks on the C binding check of the `tenancy_binding` library. Each test states the
/// behavior the threat model requires, so it fails if the attack works again.
@Suite("PostgreSQL binding library attacks", .serialized)
struct PostgresBindingLibraryBreakerTests {
    /// A DO block that runs COMMIT ends the transaction that called `bind_tenant` and goes on
    /// in a new one within A's statement. The reset must stay pending for that transaction too.
    @Test("settings after COMMIT in DO are reset")
    func settingsAfterCommitInDoAreReset() async throws {
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

    /// The same trick with `default_transaction_read_only` would make B's next write fail.
    @Test("read-only default after COMMIT in DO is reset")
    func readOnlyDefaultAfterCommitInDoIsReset() async throws {
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

    /// Two installations in one database share the application role and so the backends. The
    /// key and the bound tenant belong to the schema whose `bind_tenant` ran, so a tag signed
    /// with the other installation's secret binds nothing here.
    @Test("another schema's tag does not bind")
    func otherSchemaTagDoesNotBind() async throws {
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
                let error = await #expect(throws: PostgresError.self) {
                    _ = try await first.pool.pipeline([bindFirst, read])
                }
                #expect(error?.code == .invalidAuthorizationSpecification)

                // The second installation's bound tenant is not the first one's.
                let crossRead = PostgresStatement("SELECT id FROM \(first.items) ORDER BY id")
                let crossRows = try await first.pool.pipeline([bindSecond, crossRead])[1].rows
                #expect(crossRows.isEmpty)

                // The first installation's own tags must still verify on that connection.
                await #expect(throws: Never.self) {
                    _ = try await first.itemIDs(as: first.tenantA)
                }
            }
        }
    }
}
