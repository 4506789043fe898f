import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// A fourth round of attacks on the C binding check of the `tenancy_binding` library, on the
/// pending state that a COMMIT inside a `DO` block keeps for the rest of the tenant's statement.
/// The state once depended on `SPI_inside_nonatomic_context()`, which tenant SQL made false
/// without leaving its statement: in a `BEGIN ... EXCEPTION` block (a subtransaction is atomic
/// for SPI), or in a function with its own atomic SPI connection such as `query_to_xml`. The
/// check now counts the running DO blocks instead. Each test states what the threat model
/// requires, so it fails if the attack works again.
@Suite("PostgreSQL binding library attacks, fourth round", .serialized)
struct PostgresBindingLibraryBreaker4Tests {
    /// After the COMMIT, one statement in an EXCEPTION block must not drop the pending reset, or
    /// the settings and the advisory lock that follow stay on the pooled session.
    @Test("EXCEPTION block after COMMIT in DO keeps the reset")
    func exceptionBlockAfterCommitKeepsReset() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            try await asA.execute("""
                DO $$ BEGIN
                    COMMIT;
                    BEGIN
                        PERFORM 1 FROM pg_catalog.pg_class LIMIT 1;
                    EXCEPTION WHEN others THEN NULL;
                    END;
                    PERFORM pg_catalog.set_config('search_path', 'tenant_a_path', false);
                    PERFORM pg_catalog.set_config('statement_timeout', '1234', false);
                    PERFORM pg_catalog.pg_advisory_lock(7340004);
                END $$
                """)

            // The pool has one connection, so B's next statement runs on the session A used.
            let rows = try await asB.query("""
                SELECT pg_catalog.current_setting('search_path') AS search_path,
                    pg_catalog.current_setting('statement_timeout') AS statement_timeout,
                    (SELECT pg_catalog.count(*) FROM pg_catalog.pg_locks
                        WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()) AS advisory_locks,
                    (SELECT pg_catalog.count(*) FROM pg_catalog.pg_listening_channels()) AS channels
                """)
            #expect(try rows[0].text("search_path") == "\"$user\", public")
            #expect(try rows[0].text("statement_timeout") == "0")
            #expect(try rows[0].integer("advisory_locks") == 0)
            #expect(try rows[0].integer("channels") == 0)
        }
    }

    /// `query_to_xml` runs its query on an atomic SPI connection. After a COMMIT it must not
    /// drop the pending state, or that same query reads a library table.
    @Test("query_to_xml after COMMIT in DO cannot read library table")
    func queryToXMLAfterCommitReadsLibraryTable() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let protectedTables = "\(fixture.rls.quotedSchema).rls_tables"
            let asA = fixture.tenants.handle(forID: fixture.tenantA)

            let error = await #expect(throws: PostgresError.self, "A read the protected-table list after COMMIT in DO") {
                try await asA.execute(PostgresQuery(unsafeSQL: """
                    DO $$ BEGIN
                        COMMIT;
                        PERFORM pg_catalog.query_to_xml('SELECT * FROM \(protectedTables)', false, false, '');
                    END $$
                    """))
            }
            #expect(error?.code == .insufficientPrivilege)
        }
    }

    /// Were the pending state dropped, the commands that the check rejects in tenant SQL would
    /// run: PREPARE leaves a statement the next tenant can execute, EXPLAIN shows plans, and
    /// ALTER ROLE changes the role every tenant shares.
    @Test("rejected commands fail after COMMIT in DO", arguments: [
        "EXECUTE 'PREPARE tenant_a_leftover AS SELECT 42'",
        "EXECUTE 'EXPLAIN SELECT 1'",
        "EXECUTE 'ALTER ROLE CURRENT_USER SET work_mem = ''1234kB'''",
    ])
    func rejectedCommandsRunAfterCommit(_ command: String) async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let sql = """
                DO $$ BEGIN
                    COMMIT;
                    BEGIN
                        \(command);
                    EXCEPTION WHEN division_by_zero THEN NULL;
                    END;
                END $$
                """
            let error = await #expect(throws: PostgresError.self, "tenant SQL ran: \(command)") {
                try await asA.execute(PostgresQuery(unsafeSQL: sql))
            }
            #expect(error?.code == .insufficientPrivilege)

            // Undo what a successful attack left, so later tests start clean.
            try await PostgresTestServer.admin().execute("ALTER ROLE \(fixture.pool.configuration.user) RESET work_mem")
            try await fixture.pool.execute("DEALLOCATE ALL")
        }
    }

    /// Dropping the pending state would also disarm the termination timer, so a statement that
    /// catches the pool's cancel would outlive twice the time limit plus a second. The loop
    /// stops by itself after 5 seconds.
    @Test("EXCEPTION block after COMMIT keeps the timer")
    func exceptionBlockAfterCommitDisarmsTimer() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            var configuration = fixture.pool.configuration
            configuration.statementTimeLimit = .seconds(1)
            let limited = try PostgresDatabase(configuration, maximumConnections: 1)
            let tenants = try await PostgresTenantDatabase(limited, binding: .verified(fixture.secret), rowLevelSecurity: fixture.rls)
            let marker = "breaker4_\(UInt32.random(in: 0...UInt32.max))"
            let attack = Task {
                try await tenants.handle(forID: fixture.tenantA).execute(PostgresQuery(unsafeSQL: """
                    DO $$ DECLARE started timestamptz := pg_catalog.clock_timestamp(); BEGIN
                        COMMIT;
                        PERFORM pg_catalog.set_config('application_name', '\(marker)', false);
                        WHILE pg_catalog.clock_timestamp() < started + interval '5 seconds' LOOP
                            BEGIN
                                PERFORM pg_catalog.pg_sleep(0.2);
                            EXCEPTION WHEN query_canceled THEN NULL;
                            END;
                        END LOOP;
                    END $$
                    """))
            }

            // The timer ends the backend 3 seconds after the binding; look at 4.5 seconds.
            try await Task.sleep(for: .milliseconds(4500))
            let alive = try await PostgresTestServer.admin().query(
                "SELECT pg_catalog.count(*) AS n FROM pg_catalog.pg_stat_activity WHERE application_name = $1", [.text(marker)])
            _ = await attack.result
            await limited.close()
            #expect(try alive[0].integer("n") == 0, "the backend of A's statement was still running past the timer")
        }
    }
}
