import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// A fifth round of attacks on the C binding check of the `tenancy_binding` library, on the
/// count of running DO blocks and CALLs that keeps the reset pending across a COMMIT or
/// ROLLBACK inside a block. Each test states what the threat model requires, so it fails if its
/// attack works. None of these attacks worked against the current check, and the tests keep
/// it that way.
@Suite("PostgreSQL binding library attacks, fifth round", .serialized)
struct PostgresBindingLibraryBreaker5Tests {
    /// Tenant statements that end transactions inside DO blocks in several ways. After each,
    /// the library's own unbound statement on the same pooled connection must not be treated
    /// as tenant SQL, and the next tenant must find no cursor and the default settings.
    @Test("library statement after block transaction ends", arguments: [
        "DO $$ BEGIN COMMIT; END $$",
        "DO $$ BEGIN ROLLBACK; END $$",
        "DO $$ BEGIN COMMIT AND CHAIN; PERFORM pg_catalog.set_config('search_path', 'a_path', false); END $$",
        "DO $$ BEGIN COMMIT; PERFORM 1 / 0; END $$",
        "DO $$ BEGIN COMMIT; EXECUTE 'DO $i$ BEGIN PERFORM pg_catalog.set_config(''search_path'', ''a_path'', false); END $i$'; END $$",
        "DO $$ BEGIN COMMIT; PERFORM pg_catalog.query_to_xml('DO $i$ BEGIN PERFORM 1; END $i$', false, false, ''); END $$",
        "DO $$ DECLARE c CURSOR FOR SELECT g FROM pg_catalog.generate_series(1, 3) AS g; r record; BEGIN c := 'a_leftover'; FOR r IN c LOOP COMMIT; END LOOP; END $$",
        "DO $$ DECLARE c CURSOR FOR SELECT g FROM pg_catalog.generate_series(1, 3) AS g; r record; BEGIN c := 'a_leftover'; FOR r IN c LOOP COMMIT; PERFORM 1 / 0; END LOOP; END $$",
        "DO $$ DECLARE c CURSOR FOR SELECT g FROM pg_catalog.generate_series(1, 3) AS g; r record; BEGIN c := 'a_leftover'; FOR r IN c LOOP ROLLBACK; END LOOP; END $$",
    ])
    func libraryStatementAfterBlockTransactionEnds(_ attack: String) async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let protectedTables = "\(fixture.rls.quotedSchema).rls_tables"
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            _ = try? await asA.execute(PostgresQuery(unsafeSQL: attack))

            // The pool has one connection, so both statements run on the session A used.
            await #expect(throws: Never.self, "the library's read of the protected-table list was rejected after: \(attack)") {
                _ = try await fixture.pool.query("SELECT count(*) AS n FROM \(protectedTables)")
            }
            let rows = try await asB.query("""
                SELECT pg_catalog.current_setting('search_path') AS search_path,
                    (SELECT pg_catalog.string_agg(name || ':' || statement, ', ') FROM pg_catalog.pg_cursors WHERE name <> '') AS cursors
                """)
            #expect(try rows[0].text("search_path") == "\"$user\", public")
            #expect(try rows[0].optionalText("cursors") == nil)
        }
    }
}
