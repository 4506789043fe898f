import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// A third round of attacks on the C binding check of the `tenancy_binding` library. Each test
/// states what the threat model requires, so it fails while its attack works. Tenant SQL must
/// not read other tenants' rows or the library's tables, also not through the planner's
/// estimates or the statistics counters, and must leave nothing on the pooled session that
/// changes the next statement.
@Suite("PostgreSQL binding library attacks, third round", .serialized)
struct PostgresBindingLibraryBreaker3Tests {
    /// An uncaught error in a `DO` block aborts the transaction while the block's SPI
    /// connection, which is nonatomic, is still the current one. `end_pending_reset` then keeps
    /// the reset pending after the transaction has ended, so the session goes on treating
    /// the next transaction as a tenant transaction. The next statement of the library's own
    /// on that pooled connection (a registry lookup, a quota decision) is rejected as if it
    /// were tenant SQL.
    @Test("failed DO block leaves library tables readable")
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
    /// cache, not through the executor, so rejecting `pg_statistic` in SQL does not hide
    /// them. For a leakproof operator such as text equality, PostgreSQL 15 uses the most
    /// common values and histograms of all tenants' rows even under row-level security.
    /// `EXPLAIN` prints the estimate, so A learns how many rows B has and whether a guessed
    /// value is common among other tenants' rows.
    @Test("planner estimates hide other tenants' rows")
    func plannerEstimatesHideOtherTenantsRows() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let items = fixture.items
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            try await asB.execute("""
                INSERT INTO \(unsafeSQL: items) (tenant_id, id, note)
                SELECT \(fixture.tenantB), 'x' || i, CASE WHEN i % 3 = 0 THEN 'merger with globex' ELSE 'note ' || i END
                FROM pg_catalog.generate_series(1, 3000) AS i
                """)
            // Autovacuum does this on its own once a table has changed enough.
            _ = try await PostgresTestServer.owner().execute("ANALYZE \(items)")

            let probes = [
                ("B's tenant id", "tenant_id = 'beta-corp'", "an unknown tenant id", "tenant_id = 'gamma-corp'"),
                ("B's common note", "note = 'merger with globex'", "a note nobody wrote", "note = 'merger with initech'"),
            ]
            for (secretName, secretCondition, guessName, guessCondition) in probes {
                let secret = try await Self.estimatedRows(of: "SELECT * FROM \(items) WHERE \(secretCondition)", as: asA)
                let guess = try await Self.estimatedRows(of: "SELECT * FROM \(items) WHERE \(guessCondition)", as: asA)
                guard let secret, let guess else { continue }
                #expect(secret == guess, "A's EXPLAIN estimated \(secret) rows for \(secretName) and \(guess) for \(guessName)")
            }
        }
    }

    /// `EXPLAIN ANALYZE` runs the statement and prints "Rows Removed by Filter", which counts
    /// the rows the policy's filter dropped, that is other tenants' rows. Over a secondary
    /// index (which need not lead with `tenant_id`) the count answers whether another tenant
    /// has a row with a guessed value, such as an e-mail address.
    @Test("EXPLAIN ANALYZE hides other tenants' rows")
    func explainAnalyzeHidesOtherTenantsRows() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let items = fixture.items
            let owner = try await PostgresTestServer.owner()
            try await owner.execute("CREATE INDEX items_by_note ON \(items) (note)")
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            try await asB.execute("""
                INSERT INTO \(unsafeSQL: items) (tenant_id, id, note)
                SELECT \(fixture.tenantB), 'x' || i, 'note ' || i FROM pg_catalog.generate_series(1, 3000) AS i
                """)
            try await owner.execute("ANALYZE \(items)")

            let explain = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)"
            let written = try await Self.planText(of: "\(explain) SELECT * FROM \(items) WHERE note = 'note 7'", as: asA)
            let unwritten = try await Self.planText(of: "\(explain) SELECT * FROM \(items) WHERE note = 'no such note'", as: asA)
            if let written, let unwritten {
                // The index condition quotes each guess, so only the other lines must match.
                let writtenLines = written.split(separator: "\n").filter { !$0.contains("note 7") }
                let unwrittenLines = unwritten.split(separator: "\n").filter { !$0.contains("no such note") }
                #expect(writtenLines == unwrittenLines, "A's plans differ for a note B wrote and one nobody wrote:\n\(written)\n---\n\(unwritten)")
            }

            // B has b1 and the 3000 rows above.
            let scan = try await Self.planText(of: "\(explain) SELECT * FROM \(items) WHERE note <> ''", as: asA) ?? ""
            #expect(!scan.contains("Rows Removed by Filter: 3001"), "A's plan counted B's 3001 rows:\n\(scan)")
        }
    }

    /// The statistics counters and `pg_class.reltuples` are readable by every role and count
    /// the rows of every table, the library's included. So tenant SQL learns how many tenants
    /// the registry has without naming the registry in its range table.
    @Test("registry row counts stay hidden from tenant SQL")
    func registryRowCountsStayHidden() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            try await PostgresTestServer.withRegistrySchema { registry in
                let owner = try await PostgresTestServer.owner()
                let tenants = "\(try PostgresIdentifier.quoted(registry.name)).tenancy_tenants"
                try await owner.execute("""
                    INSERT INTO \(tenants) (id, name, tier, status, config, admin_email, time_zone, placement, created_at, updated_at, metadata)
                    SELECT 'tenant-' || i, 'Tenant ' || i, 'free', 'active', '{}', 'admin@tenant' || i || '.example',
                        'UTC', 'pool', now(), now(), '{}'
                    FROM generate_series(1, 37) AS i
                    """)
                try await owner.execute("ANALYZE \(tenants)")

                let asA = fixture.tenants.handle(forID: fixture.tenantA)
                let counts: [(String, String)] = [
                    ("pg_stat_get_live_tuples", "SELECT pg_catalog.pg_stat_get_live_tuples($1::regclass) AS n"),
                    ("pg_stat_get_tuples_inserted", "SELECT pg_catalog.pg_stat_get_tuples_inserted($1::regclass) AS n"),
                    ("pg_class.reltuples", "SELECT c.reltuples::int8 AS n FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass"),
                ]
                for (source, sql) in counts {
                    var count: Int64?
                    do {
                        count = try await asA.query(PostgresQuery(unsafeSQL: sql, arguments: [.text(tenants)]))[0].integer("n")
                    } catch let error as PostgresError {
                        #expect(error.code == .insufficientPrivilege, "expected insufficient_privilege, got \(error)")
                    }
                    #expect(count != 37, "tenant SQL read the number of registered tenants (37) from \(source)")
                }
            }
        }
    }

    /// Returns the lines `sql` (an `EXPLAIN`) prints, joined by newlines, or nil when the
    /// binding check rejects `EXPLAIN` in a tenant transaction.
    static func planText(of sql: String, as tenant: PostgresTenantHandle) async throws -> String? {
        do {
            let plan = try await tenant.query(PostgresQuery(unsafeSQL: sql))
            return try plan.map { try $0.text("QUERY PLAN") }.joined(separator: "\n")
        } catch let error as PostgresError where error.code == .insufficientPrivilege {
            return nil
        }
    }

    /// Returns the row estimate of the top plan node of `sql` as `EXPLAIN` prints it, or nil
    /// when the binding check rejects `EXPLAIN` in a tenant transaction.
    static func estimatedRows(of sql: String, as tenant: PostgresTenantHandle) async throws -> Int64? {
        let plan: [PostgresRow]
        do {
            plan = try await tenant.query(PostgresQuery(unsafeSQL: "EXPLAIN \(sql)"))
        } catch let error as PostgresError where error.code == .insufficientPrivilege {
            return nil
        }
        let line = try plan[0].text("QUERY PLAN")
        guard let range = line.range(of: #"rows=[0-9]+"#, options: .regularExpression) else {
            throw PostgresTestServer.SetupError("no row estimate in the plan line '\(line)'")
        }
        return Int64(line[range].dropFirst("rows=".count))
    }
}
