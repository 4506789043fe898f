import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// More attacks on the C binding check of the `tenancy_binding` library. Each test states what
/// the threat model requires, so it fails if its attack works again. Tenant SQL must leave no
/// state on the pooled session that changes what the next tenant's statement reads. It must
/// not change the shared role, and must not stop other tenants' statements.
@Suite("PostgreSQL binding library attacks, second round", .serialized)
struct PostgresBindingLibraryBreaker2Tests {
    /// A statement that draws a sequence value and then fails aborts, and `nextval` is not
    /// rolled back, so the reset must discard sequence values at abort too, or the next
    /// tenant's `lastval()` returns the value A drew.
    @Test("lastval after an aborted statement is reset", arguments: RowLevelSecurityFixture.verifiedChecks)
    func lastvalAfterAbortIsReset(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let posts = try await Self.createSerialTable(in: fixture)
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            await #expect(throws: PostgresError.self) {
                try await asA.query("""
                    WITH drawn AS (INSERT INTO \(unsafeSQL: posts) (tenant_id) VALUES (\(fixture.tenantA)) RETURNING id)
                    SELECT id / 0 FROM drawn
                    """)
            }

            // The pool has one connection, so B's statement runs on the session A used. On a
            // fresh session lastval() fails with "lastval is not yet defined in this session".
            var leaked: Int64?
            do {
                leaked = try await asB.query("SELECT pg_catalog.lastval() AS value")[0].integer("value")
            } catch let error as PostgresError {
                #expect(error.code == "55000", "expected object_not_in_prerequisite_state, got \(error)")
            }
            #expect(leaked == nil, "B's lastval() returned \(leaked.map(String.init) ?? "nil"), the value A's failed statement drew")
        }
    }

    /// The same through a `DO` block that draws a value and raises.
    @Test("currval after an error in DO is reset", arguments: RowLevelSecurityFixture.verifiedChecks)
    func currvalAfterErrorInDoIsReset(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let posts = try await Self.createSerialTable(in: fixture)
            let sequence = "\(fixture.rls.schema).posts_id_seq"
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            await #expect(throws: PostgresError.self) {
                try await asA.execute(PostgresQuery(unsafeSQL: """
                    DO $$ BEGIN
                        INSERT INTO \(posts) (tenant_id) VALUES ('\(fixture.tenantA.rawValue)');
                        RAISE EXCEPTION 'abort after nextval';
                    END $$
                    """))
            }

            var leaked: Int64?
            do {
                leaked = try await asB.query("SELECT pg_catalog.currval(\(sequence)::regclass) AS value")[0].integer("value")
            } catch let error as PostgresError {
                #expect(error.code == "55000", "expected object_not_in_prerequisite_state, got \(error)")
            }
            #expect(leaked == nil, "B's currval() returned \(leaked.map(String.init) ?? "nil"), the value A's failed DO block drew")
        }
    }

    /// `setseed()` sets the state of `random()` for the rest of the session, and `RESET ALL`
    /// does not touch it. The reset must reseed, or A fixes the values of B's next `random()`
    /// calls: after the same seed B would draw the same number twice.
    @Test("random() state is not carried to the next tenant", arguments: RowLevelSecurityFixture.verifiedChecks)
    func randomSeedIsNotCarried(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            var draws: [Double] = []
            for _ in 0..<2 {
                _ = try await asA.query("SELECT pg_catalog.setseed(0.5)")
                draws.append(try await asB.query("SELECT pg_catalog.random() AS value")[0].double("value"))
            }
            #expect(draws[0] != draws[1], "B's random() returned \(draws[0]) both times, the first value after A's setseed(0.5)")
        }
    }

    /// `ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER` needs no privilege beyond being the
    /// role, and writes a row into `pg_default_acl` that outlives the transaction: a change to
    /// the shared role's defaults, like the `ALTER ROLE` the check rejects.
    @Test("default privileges of the shared role stay unchanged")
    func defaultPrivilegesStayUnchanged() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            _ = try? await asA.execute("ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER GRANT ALL ON TABLES TO PUBLIC")

            let admin = try await PostgresTestServer.admin()
            let rows = try await admin.query(
                "SELECT count(*) AS n FROM pg_catalog.pg_default_acl WHERE defaclrole = $1::regrole",
                [.text(fixture.pool.configuration.user)])
            let count = try rows[0].integer("n")
            // Clean up, so the row does not outlive the test whatever its result.
            _ = try await admin.execute("ALTER DEFAULT PRIVILEGES FOR ROLE \(try PostgresIdentifier.quoted(fixture.pool.configuration.user)) REVOKE ALL ON TABLES FROM PUBLIC")
            _ = try await admin.execute("ALTER DEFAULT PRIVILEGES FOR ROLE \(try PostgresIdentifier.quoted(fixture.pool.configuration.user)) GRANT ALL ON TABLES TO \(try PostgresIdentifier.quoted(fixture.pool.configuration.user))")
            #expect(count == 0, "tenant SQL stored \(count) default-privilege rows for the application role")
        }
    }

    /// The application role has UPDATE and DELETE on every tenant table, which lets
    /// `LOCK TABLE` take ACCESS EXCLUSIVE. One tenant statement that takes it and sleeps
    /// would stop every other tenant's reads of the table until the statement ends. The C
    /// check rejects LOCK; the PL/pgSQL check cannot, which docs/isolation.md lists.
    @Test("table lock in tenant SQL does not block other tenants")
    func tableLockDoesNotBlockOthers() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 2) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let items = fixture.items
            let holder = Task {
                try await asA.execute(PostgresQuery(unsafeSQL: """
                    DO $$ BEGIN LOCK TABLE \(items) IN ACCESS EXCLUSIVE MODE; PERFORM pg_catalog.pg_sleep(6); END $$
                    """))
            }
            // Wait until A has the lock (pg_locks lists every session's locks to any role), or
            // 3 seconds when the check rejects A's LOCK, so B's read runs either way.
            var lockGranted = false
            for _ in 0..<60 where !lockGranted {
                try await Task.sleep(for: .milliseconds(50))
                let rows = try await fixture.pool.query(
                    "SELECT count(*) AS n FROM pg_catalog.pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = $1::regclass AND granted",
                    [.text(items)])
                lockGranted = try rows[0].integer("n") > 0
            }

            let clock = ContinuousClock()
            let start = clock.now
            let ids = try await fixture.itemIDs(as: fixture.tenantB)
            let waited = clock.now - start
            _ = await holder.result
            #expect(ids == ["b1"])
            #expect(waited < .seconds(1), "B's read of its own rows waited \(waited) for A's table lock")
        }
    }

    /// The pool's time limit sends a cancel request, and a `DO` block that catches
    /// `query_canceled` goes on running. The pool must give up on it a grace period later
    /// (as long again as the limit, at least a second) instead of waiting, so one tenant
    /// statement cannot keep a connection past the limit. The loop stops by itself after 5
    /// seconds.
    @Test("time limit ends a statement that catches cancel", arguments: RowLevelSecurityFixture.verifiedChecks)
    func timeLimitEndsCancelCatchingStatement(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            var configuration = fixture.pool.configuration
            configuration.statementTimeLimit = .seconds(1)
            let limited = try PostgresDatabase(configuration, maximumConnections: 1)
            let tenants: PostgresTenantDatabase
            do {
                tenants = try await PostgresTenantDatabase(limited, binding: .verified(fixture.secret), rowLevelSecurity: fixture.rls)
            } catch {
                await limited.close()
                throw error
            }
            let asA = tenants.handle(forID: fixture.tenantA)

            let clock = ContinuousClock()
            let start = clock.now
            let error = await #expect(throws: PostgresError.self) {
                try await asA.execute(PostgresQuery(unsafeSQL: """
                    DO $$ DECLARE started timestamptz := clock_timestamp(); BEGIN
                        WHILE clock_timestamp() < started + interval '5 seconds' LOOP
                            BEGIN PERFORM pg_catalog.pg_sleep(0.1); EXCEPTION WHEN query_canceled THEN NULL; END;
                        END LOOP;
                    END $$
                    """))
            }
            let elapsed = clock.now - start
            await limited.close()
            #expect(error?.kind == .statementTimedOut)
            #expect(error?.code == .queryCanceled)
            #expect(elapsed < .seconds(3), "a statement under a 1-second time limit ran for \(elapsed)")
            guard check == .library else { return }
            // The C check also ends the backend itself, twice the limit plus a second after the
            // binding, where the PL/pgSQL check leaves it running until the loop ends.
            try await Task.sleep(until: start + .milliseconds(3_500))
            let running = try await PostgresTestServer.admin().query(
                "SELECT count(*) AS n FROM pg_catalog.pg_stat_activity WHERE query LIKE '%EXCEPTION WHEN query_canceled%' AND pid <> pg_catalog.pg_backend_pid()")
            #expect(try running[0].integer("n") == 0)
        }
    }

    /// The application role has SELECT on the registry's tables for the library's own
    /// statements, so `pg_stats` would show it their column statistics: the most common values
    /// and histogram bounds that ANALYZE sampled, such as every tenant's admin e-mail. The view
    /// reads `pg_statistic`, not the registry, so the C check rejects `pg_statistic` itself in
    /// a tenant transaction.
    @Test("registry statistics stay hidden from tenant SQL")
    func registryStatisticsStayHidden() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            try await PostgresTestServer.withRegistrySchema { registry in
                let owner = try await PostgresTestServer.owner()
                let tenants = "\(try PostgresIdentifier.quoted(registry.name)).tenancy_tenants"
                try await owner.execute("""
                    INSERT INTO \(tenants) (id, name, tier, status, config, admin_email, time_zone, placement, created_at, updated_at, metadata)
                    SELECT 'tenant-' || i, 'Tenant ' || i, 'free', 'active', '{}', 'admin' || i % 10 || '@tenant' || i % 10 || '.example',
                        'UTC', 'pool', now(), now(), '{}'
                    FROM generate_series(1, 100) AS i
                    """)
                try await owner.execute("ANALYZE \(tenants)")

                let asA = fixture.tenants.handle(forID: fixture.tenantA)
                let error = await #expect(throws: PostgresError.self) {
                    _ = try await asA.query("""
                        SELECT pg_catalog.count(*) AS n FROM pg_catalog.pg_stats
                        WHERE schemaname = \(registry.name) AND tablename = 'tenancy_tenants' AND attname = 'admin_email'
                            AND (most_common_vals IS NOT NULL OR histogram_bounds IS NOT NULL)
                        """)
                }
                #expect(error?.serverMessage == "tenancy binding: a tenant transaction cannot read the planner statistics in pg_catalog.pg_statistic")
                // Without a tenant, the library's own statements may still read the statistics.
                let statistics = try await fixture.pool.query(
                    "SELECT count(*) AS n FROM pg_catalog.pg_stats WHERE schemaname = $1 AND tablename = 'tenancy_tenants'", [.text(registry.name)])
                #expect(try statistics[0].integer("n") > 0)
            }
        }
    }

    /// Creates `posts` with a `serial` id in the fixture's schema, protects it, and grants the
    /// application role USAGE on its sequence, which inserts that draw the default need.
    /// Returns its qualified name.
    static func createSerialTable(in fixture: RowLevelSecurityFixture) async throws -> String {
        let owner = try await PostgresTestServer.owner()
        let schema = fixture.rls.quotedSchema
        let application = try PostgresIdentifier.quoted(fixture.pool.configuration.user)
        try await owner.execute("CREATE TABLE \(schema).posts (tenant_id text COLLATE \"C\" NOT NULL, id serial, PRIMARY KEY (tenant_id, id))")
        try await fixture.rls.protect(table: "posts", schema: fixture.rls.schema, owner: owner, applicationRole: fixture.pool.configuration.user)
        try await owner.execute("GRANT USAGE ON SEQUENCE \(schema).posts_id_seq TO \(application)")
        return "\(schema).posts"
    }
}
