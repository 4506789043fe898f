import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// The commands the C binding check rejects in a tenant transaction, because their effect
/// outlives it on the pooled session or the shared role.
@Suite("PostgreSQL binding library rejected commands", .serialized)
struct PostgresBindingLibraryCommandTests {
    @Test("rejected command fails in tenant SQL", arguments: [
        ("ALTER ROLE CURRENT_USER SET work_mem = '1MB'", "ALTER ROLE"),
        ("ALTER ROLE CURRENT_USER PASSWORD 'taken-over'", "ALTER ROLE"),
        ("ALTER USER CURRENT_USER CONNECTION LIMIT 1", "ALTER ROLE"),
        ("PREPARE planted AS SELECT 1", "PREPARE"),
        ("LISTEN tenant_channel", "LISTEN"),
        ("DECLARE kept CURSOR WITH HOLD FOR SELECT 1", "DECLARE ... WITH HOLD"),
        ("PREPARE TRANSACTION 'kept'", "PREPARE TRANSACTION"),
        ("DO $$ BEGIN EXECUTE 'ALTER ROLE CURRENT_USER SET work_mem = ''2MB'''; END $$", "ALTER ROLE"),
    ])
    func rejected(_ sql: String, _ command: String) async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let error = await #expect(throws: PostgresError.self) {
                try await asA.execute(PostgresQuery(unsafeSQL: sql))
            }
            #expect(error?.code == .insufficientPrivilege)
            #expect(error?.serverMessage == "tenancy binding: a tenant transaction cannot run \(command)")
        }
    }

    @Test("rejected commands change nothing")
    func nothingChanged() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            _ = try? await asA.execute("ALTER ROLE CURRENT_USER SET work_mem = '1MB'")
            _ = try? await asA.execute("PREPARE planted AS SELECT 1")
            _ = try? await asA.execute("DECLARE kept CURSOR WITH HOLD FOR SELECT 1")
            let settings = try await fixture.pool.query(
                "SELECT count(*) AS n FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_roles r ON r.oid = s.setrole WHERE r.rolname = current_user")
            #expect(try settings[0].integer("n") == 0)
            let cursors = try await asA.query("SELECT count(*) AS n FROM pg_catalog.pg_cursors WHERE name = 'kept'")
            #expect(try cursors[0].integer("n") == 0)
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
        }
    }

    @Test("cursor without HOLD still works")
    func cursorWithoutHold() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let items = fixture.items
            let ids = try await fixture.tenants.handle(forID: fixture.tenantA).transaction { transaction in
                try transaction.execute("DECLARE scan CURSOR FOR SELECT id FROM \(unsafeSQL: items) ORDER BY id")
                return try transaction.query("FETCH ALL FROM scan").map { try $0.text("id") }
            }
            #expect(ids == ["a1", "a2"])
        }
    }
}

/// Transaction control inside a `DO` block, which starts a new transaction within one tenant
/// statement.
@Suite("PostgreSQL binding library and COMMIT inside DO", .serialized)
struct PostgresBindingLibraryCommitInsideTests {
    @Test("insert after COMMIT in DO is unbound")
    func rowsAfterCommitAreNotBound() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let items = fixture.items
            let error = await #expect(throws: PostgresError.self) {
                try await asA.execute(PostgresQuery(unsafeSQL: """
                    DO $$ BEGIN COMMIT; INSERT INTO \(items) (tenant_id, id) VALUES ('\(fixture.tenantA.rawValue)', 'a-after-commit'); END $$
                    """))
            }
            #expect(error?.code == .insufficientPrivilege)
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
        }
    }

    @Test("ALTER ROLE after COMMIT in DO fails")
    func alterRoleAfterCommit() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let error = await #expect(throws: PostgresError.self) {
                try await asA.execute("DO $$ BEGIN COMMIT; EXECUTE 'ALTER ROLE CURRENT_USER SET work_mem = ''1MB'''; END $$")
            }
            #expect(error?.serverMessage == "tenancy binding: a tenant transaction cannot run ALTER ROLE")
            let settings = try await fixture.pool.query(
                "SELECT count(*) AS n FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_roles r ON r.oid = s.setrole WHERE r.rolname = current_user")
            #expect(try settings[0].integer("n") == 0)
        }
    }
}

/// Sequence values that one tenant's statement draws on a pooled session.
@Suite("PostgreSQL session reset of sequence values", .serialized)
struct PostgresSequenceResetTests {
    @Test("B's lastval() does not return A's value", arguments: [PostgresBindingCheck.plpgsql, .library])
    func lastValueIsForgotten(_ check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let owner = try await PostgresTestServer.owner()
            let sequence = "\(fixture.rls.quotedSchema).counter"
            try await owner.execute("CREATE SEQUENCE \(sequence) START 1000")
            try await owner.execute("GRANT USAGE ON SEQUENCE \(sequence) TO \(try PostgresIdentifier.quoted(fixture.pool.configuration.user))")
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let drawn = try await asA.query(PostgresQuery(unsafeSQL: "SELECT nextval('\(sequence)') AS value"))
            #expect(try drawn[0].integer("value") == 1000)

            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            let error = await #expect(throws: PostgresError.self) {
                _ = try await asB.query("SELECT lastval() AS value")
            }
            #expect(error?.code == "55000")
        }
    }
}

/// The library's own tables, which the application role may use for the library's statements,
/// in a tenant transaction.
@Suite("PostgreSQL binding library and the library's tables", .serialized)
struct PostgresBindingLibraryTableTests {
    @Test("tenant SQL cannot use a library table", arguments: [
        "SELECT count(*) AS n FROM %@.rls_tables",
        "SELECT count(*) AS n FROM %@.tenancy_migrations",
        "SELECT query_to_xml('SELECT * FROM %@.rls_tables', true, false, '') AS n",
        "DO $$ BEGIN PERFORM count(*) FROM %@.tenancy_migrations; END $$",
    ])
    func libraryTableIsRejected(_ template: String) async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let sql = template.replacingOccurrences(of: "%@", with: fixture.rls.quotedSchema)
            let error = await #expect(throws: PostgresError.self) {
                try await fixture.tenants.handle(forID: fixture.tenantA).execute(PostgresQuery(unsafeSQL: sql))
            }
            #expect(error?.code == .insufficientPrivilege)
            #expect(error?.serverMessage?.hasPrefix("tenancy binding: a tenant transaction cannot use the library table \(fixture.rls.schema).") == true)
        }
    }

    @Test("tenant SQL cannot read the registry")
    func registryIsRejected() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let owner = try await PostgresTestServer.owner()
            let registry = try PostgresRegistrySchema(name: fixture.rls.schema)
            try await registry.install(owner: owner, applicationRole: fixture.pool.configuration.user)
            let store = try await PostgresTenantStore(database: fixture.pool, schema: registry)
            try await store.insert(Tenant(id: "beta-corp", name: "Beta", tier: .free, adminEmail: "admin@beta.example", createdAt: Date()))

            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let error = await #expect(throws: PostgresError.self) {
                _ = try await asA.query(PostgresQuery(unsafeSQL: "SELECT admin_email FROM \(fixture.rls.quotedSchema).tenancy_tenants"))
            }
            #expect(error?.serverMessage == "tenancy binding: a tenant transaction cannot use the library table \(fixture.rls.schema).tenancy_tenants")
            let update = await #expect(throws: PostgresError.self) {
                try await asA.execute(PostgresQuery(unsafeSQL: "UPDATE \(fixture.rls.quotedSchema).tenancy_tenants SET tier = 'enterprise' WHERE id = 'beta-corp'"))
            }
            #expect(update?.serverMessage == "tenancy binding: a tenant transaction cannot use the library table \(fixture.rls.schema).tenancy_tenants")
            #expect(try await store.tenant("beta-corp")?.tier == .free)

            // The library's own statements, which bind no tenant, still use the registry on the same connection.
            #expect(try await store.tenant("beta-corp")?.adminEmail == "admin@beta.example")
            // Tenant tables in the library's schema stay readable.
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
        }
    }
}
