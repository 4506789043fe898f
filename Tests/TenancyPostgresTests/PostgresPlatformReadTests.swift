import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// Platform-wide reads through the maintenance role: where they run, which roles may serve
/// them, and that they cannot write.
@Suite("PostgreSQL platform reads", .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipMessage))
struct PostgresPlatformReadTests {
    /// Grants the maintenance role what platform reads need on the fixture's tables, as an
    /// installation does: `USAGE` on their schema, and `SELECT` on each through `protect`.
    static func grantReads(_ fixture: RowLevelSecurityFixture, to role: String) async throws {
        let owner = try await PostgresTestServer.owner()
        try await owner.execute("GRANT USAGE ON SCHEMA \(fixture.rls.quotedSchema) TO \(try PostgresIdentifier.quoted(role))")
        for table in ["items", "notes"] {
            try await fixture.rls.protect(
                table: table, schema: fixture.rls.schema, owner: owner, applicationRole: fixture.pool.configuration.user, maintenanceRole: role)
        }
    }

    /// Runs `body` with the fixture and a tenant database opened with the test server's
    /// maintenance role, `tenancy_maintenance`.
    static func withPlatformReads<Result>(
        _ body: (RowLevelSecurityFixture, PostgresTenantDatabase, PostgresDatabase) async throws -> Result
    ) async throws -> Result {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let maintenance = try PostgresDatabase(url: try PostgresTestServer.urls().maintenance, maximumConnections: 2)
            do {
                try await grantReads(fixture, to: maintenance.configuration.user)
                let tenants = try await PostgresTenantDatabase(
                    fixture.pool, binding: .verified(fixture.secret), rowLevelSecurity: fixture.rls, maintenance: maintenance)
                let result = try await body(fixture, tenants, maintenance)
                await maintenance.close()
                return result
            } catch {
                await maintenance.close()
                throw error
            }
        }
    }

    /// Opens the fixture's tenant database with `maintenance` and returns the error.
    static func openingError(_ fixture: RowLevelSecurityFixture, maintenance: PostgresDatabase) async -> IsolationError? {
        await #expect(throws: IsolationError.self) {
            _ = try await PostgresTenantDatabase(fixture.pool, binding: .verified(fixture.secret), rowLevelSecurity: fixture.rls, maintenance: maintenance)
        }
    }

    /// Returns every item as `tenant:id=note`, read through the platform scope.
    static func allItems(_ fixture: RowLevelSecurityFixture, _ tenants: PostgresTenantDatabase) async throws -> [String] {
        try await TenantManager().withPlatformScope(reason: "test: list every item") {
            try await tenants.platformQuery("SELECT tenant_id || ':' || id || '=' || note AS item FROM \(unsafeSQL: fixture.items) ORDER BY tenant_id, id")
                .map { try $0.text("item") }
        }
    }

    // MARK: - Reads

    @Test("platform read sees every tenant's rows")
    func readsEveryTenant() async throws {
        try await Self.withPlatformReads { fixture, tenants, _ in
            let manager = TenantManager()
            let (items, notes) = try await manager.withPlatformScope(reason: "test: rows per tenant") {
                let items = try await tenants.platformQuery(
                    "SELECT tenant_id, count(*) AS n FROM \(unsafeSQL: fixture.items) GROUP BY tenant_id ORDER BY tenant_id")
                let notes = try await tenants.platformQuery(
                    "SELECT tenant_id, count(*) AS n FROM \(unsafeSQL: fixture.notes) WHERE tenant_id IN (\(fixture.tenantA), \(fixture.tenantB)) GROUP BY tenant_id ORDER BY tenant_id")
                return (
                    try items.map { "\(try $0.text("tenant_id"))=\(try $0.integer("n"))" },
                    try notes.map { "\(try $0.text("tenant_id"))=\(try $0.integer("n"))" }
                )
            }
            #expect(items == ["alpha-corp=2", "beta-corp=1"])
            #expect(notes == ["alpha-corp=1", "beta-corp=2"])

            // The application role with no tenant bound sees none of them.
            let unbound = try await tenants.queryWithoutTenant("SELECT count(*) AS n FROM \(unsafeSQL: fixture.items)")[0].integer("n")
            #expect(unbound == 0)
        }
    }

    /// Statements that change the maintenance connection's session beyond their
    /// transaction: settings, an advisory lock, a held cursor and a listen. The last one
    /// takes a lock and then fails, because a session-level advisory lock survives the
    /// rollback.
    static let sessionChanges = [
        "SELECT pg_catalog.set_config('extra_float_digits', '-15', false)",
        "SELECT pg_catalog.set_config('search_path', 'pg_catalog', false)",
        "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtextextended('tenancy.test.platform-session', 0))",
        "DECLARE platform_probe CURSOR WITH HOLD FOR SELECT 1",
        "LISTEN platform_probe",
        // `1 / (g - 1)`, unlike `1 / 0`, fails when the row is computed, after the lock.
        "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtextextended('tenancy.test.platform-session', 1)), 1 / (g - 1) FROM pg_catalog.generate_series(1, 1) AS g",
    ]

    @Test("platform read leaves no session state behind")
    func sessionStateIsDiscarded() async throws {
        try await Self.withPlatformReads { fixture, tenants, maintenance in
            try await TenantManager().withPlatformScope(reason: "test: change the session") {
                for sql in Self.sessionChanges {
                    _ = try? await tenants.platformQuery(PostgresQuery(unsafeSQL: sql))
                }
                // Run one after another, the reads reuse the pool's one idle connection.
                #expect(maintenance.openConnections == 1)

                let session = try await tenants.platformQuery("""
                    SELECT pg_catalog.current_setting('extra_float_digits') AS float_digits,
                        pg_catalog.current_setting('search_path') AS search_path,
                        (SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()) AS advisory_locks,
                        (SELECT count(*) FROM pg_catalog.pg_cursors WHERE name = 'platform_probe') AS cursors,
                        (SELECT count(*) FROM pg_catalog.pg_listening_channels()) AS channels
                    """)[0]
                #expect(try session.text("float_digits") == "1")
                #expect(try session.text("search_path") == "\"$user\", public")
                #expect(try session.integer("advisory_locks") == 0)
                #expect(try session.integer("cursors") == 0)
                #expect(try session.integer("channels") == 0)
            }
        }
    }

    @Test("platform read outside platform scope is denied")
    func deniedOutsidePlatformScope() async throws {
        try await Self.withPlatformReads { fixture, tenants, _ in
            let expected = "platformQuery(_:) reads the rows of every tenant: run it inside manager.withPlatformScope(reason:), which records the reason in the audit trail"
            let outside = await #expect(throws: IsolationError.self) {
                _ = try await tenants.platformQuery("SELECT count(*) AS n FROM \(unsafeSQL: fixture.items)")
            }
            #expect(outside?.code == .denied)
            #expect(outside?.message == expected)

            let manager = TenantManager()
            _ = try await manager.createTenant(name: "Alpha Corp", tier: .business, adminEmail: "ops@alpha.example", id: fixture.tenantA)
            let inTenantScope = await #expect(throws: IsolationError.self) {
                try await manager.withTenant(fixture.tenantA) { _ in
                    _ = try await tenants.platformQuery("SELECT count(*) AS n FROM \(unsafeSQL: fixture.items)")
                }
            }
            #expect(inTenantScope?.code == .denied)
            #expect(inTenantScope?.message == expected)
        }
    }

    @Test("platform read without maintenance pool fails")
    func missingMaintenancePool() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            #expect(fixture.tenants.maintenance == nil)
            let error = await #expect(throws: IsolationError.self) {
                try await TenantManager().withPlatformScope(reason: "test: no maintenance pool") {
                    _ = try await fixture.tenants.platformQuery("SELECT count(*) AS n FROM \(unsafeSQL: fixture.items)")
                }
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message == "platformQuery(_:) needs a pool for the maintenance role, a role with BYPASSRLS, because FORCE ROW LEVEL SECURITY shows every other role no rows "
                + "without a tenant: pass maintenance: to PostgresTenantDatabase; in the tenancy CLI, pass --maintenance-database URL or set TENANCY_MAINTENANCE_DATABASE_URL")
        }
    }

    // MARK: - The maintenance role

    @Test("application role as maintenance is rejected")
    func applicationRoleRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let role = fixture.pool.configuration.user
            let error = await Self.openingError(fixture, maintenance: fixture.pool)
            #expect(error?.code == .invalidMaintenanceRole)
            #expect(error?.message == "platform-wide reads need a maintenance role of their own: \(role) is the application role, which must never have BYPASSRLS; "
                + "connect as a separate role with BYPASSRLS and NOSUPERUSER, such as the one installRoles(admin:database:roles:) or 'tenancy roles-sql --maintenance-database' creates")
        }
    }

    /// The owner sees nothing under `FORCE ROW LEVEL SECURITY`, so it is rejected for the
    /// missing `BYPASSRLS` before its write privileges are looked at.
    @Test("owner role as maintenance is rejected")
    func ownerRoleRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let owner = try await PostgresTestServer.owner()
            let ownerSees = try await owner.query("SELECT count(*) AS n FROM \(fixture.items)")[0].integer("n")
            #expect(ownerSees == 0)

            let role = owner.configuration.user
            let error = await Self.openingError(fixture, maintenance: owner)
            #expect(error?.code == .invalidMaintenanceRole)
            #expect(error?.message == "platform-wide reads need a read-only role with BYPASSRLS: the maintenance role \(role) has no BYPASSRLS, "
                + "so FORCE ROW LEVEL SECURITY shows it no tenant rows; ALTER ROLE \(role) BYPASSRLS as a superuser, "
                + "or connect as the maintenance role that installRoles(admin:database:roles:) creates")
        }
    }

    @Test("superuser as maintenance is rejected")
    func superuserRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let admin = try await PostgresTestServer.admin()
            let role = admin.configuration.user
            let error = await Self.openingError(fixture, maintenance: admin)
            #expect(error?.code == .invalidMaintenanceRole)
            #expect(error?.message == "platform-wide reads need a read-only role with BYPASSRLS: the maintenance role \(role) is superuser, so it could change any row; "
                + "connect as a role with BYPASSRLS and NOSUPERUSER, such as the maintenance role that installRoles(admin:database:roles:) creates")
        }
    }

    @Test("maintenance role that may write is rejected")
    func writerRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let schema = fixture.rls.quotedSchema
            let error = try await PostgresRowLevelSecurityRoleTests.withRole(
                fixture, attributes: "BYPASSRLS", setUp: ["GRANT SELECT, INSERT ON \(schema).items TO ROLE", "GRANT SELECT ON \(schema).notes TO ROLE"]
            ) { pool in
                (pool.configuration.user, await Self.openingError(fixture, maintenance: pool))
            }
            let role = error.0
            #expect(error.1?.code == .invalidMaintenanceRole)
            #expect(error.1?.message == "platform-wide reads need a read-only role with BYPASSRLS: the maintenance role \(role) may insert, update, delete, truncate "
                + "or add triggers to the tenant tables \(fixture.rls.schema).items; REVOKE INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER ON those tables FROM \(role)")
        }
    }

    /// With `NOINHERIT` the role has none of the application role's privileges itself,
    /// but it can still `SET ROLE` to it and write.
    @Test("member of a writing role is rejected")
    func memberOfWriterRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let application = fixture.pool.configuration.user
            let error = try await PostgresRowLevelSecurityRoleTests.withRole(
                fixture, attributes: "BYPASSRLS NOINHERIT", setUp: ["GRANT \(try PostgresIdentifier.quoted(application)) TO ROLE"]
            ) { pool in
                (pool.configuration.user, await Self.openingError(fixture, maintenance: pool))
            }
            let role = error.0
            #expect(error.1?.code == .invalidMaintenanceRole)
            #expect(error.1?.message == "platform-wide reads need a read-only role with BYPASSRLS: the maintenance role \(role) is a member of role \(application), "
                + "which may insert, update, delete, truncate or add triggers to the tenant tables \(fixture.rls.schema).items, \(fixture.rls.schema).notes; "
                + "REVOKE INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER ON those tables FROM \(application) or REVOKE \(application) FROM \(role)")
        }
    }

    @Test("maintenance pool on another database is rejected")
    func otherDatabaseRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            var configuration = try PostgresConfiguration(url: try PostgresTestServer.urls().maintenance)
            let applicationDatabase = configuration.database
            configuration.database = "postgres"
            let maintenance = try PostgresDatabase(configuration, maximumConnections: 1)
            let error = await Self.openingError(fixture, maintenance: maintenance)
            await maintenance.close()
            #expect(error?.code == .invalidMaintenanceRole)
            #expect(error?.message == "platform-wide reads need the maintenance role in the application's database: role \(configuration.user) is connected to database postgres, "
                + "but the application role to \(applicationDatabase); connect the maintenance pool to \(applicationDatabase)")
        }
    }

    // MARK: - Writes

    /// Statements that try to change the table, each with the SQLSTATE that stops it. The
    /// maintenance role is granted every write privilege on the table after opening, so only
    /// the read-only transaction stops the writes. `TABLE` is replaced by the table's name.
    static let writeAttempts: [(sql: String, sqlState: String)] = [
        ("INSERT INTO TABLE (tenant_id, id) VALUES ('alpha-corp', 'a9')", "25006"),
        ("UPDATE TABLE SET note = 'changed'", "25006"),
        ("DELETE FROM TABLE", "25006"),
        ("TRUNCATE TABLE", "25006"),
        // In an implicit transaction this COMMIT would end the read-only transaction.
        ("DO $$ BEGIN COMMIT; DELETE FROM TABLE; END $$", "2D000"),
        ("DO $$ BEGIN SET TRANSACTION READ WRITE; DELETE FROM TABLE; END $$", "25001"),
        ("SELECT pg_catalog.set_config('transaction_read_only', 'off', true)", "25001"),
    ]

    @Test("large object written by a platform read is rolled back")
    func largeObjectIsRolledBack() async throws {
        try await Self.withPlatformReads { _, tenants, maintenance in
            // PostgreSQL 15.18 lets lo_from_bytea create a large object in a read-only
            // transaction. The superuser SQL takes the function from PUBLIC, so this grants it
            // to the maintenance role for the test, as a deployment without that step has it.
            let role = try PostgresIdentifier.quoted(maintenance.configuration.user)
            let admin = try await PostgresTestServer.admin()
            let created = try await PostgresTestServer.withDatabaseGrantsLocked {
                try await admin.execute("GRANT EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea) TO \(role)")
                defer { Task { try? await admin.execute("REVOKE EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea) FROM \(role)") } }
                return try await TenantManager().withPlatformScope(reason: "test: large object") {
                    try await tenants.platformQuery("SELECT pg_catalog.lo_from_bytea(0, '\\x00')::int8 AS oid")[0].integer("oid")
                }
            }
            let stored = try await PostgresTestServer.admin().query(
                "SELECT count(*) AS n FROM pg_catalog.pg_largeobject_metadata WHERE oid = $1::int8::oid", [.integer(created)])
            #expect(try stored[0].integer("n") == 0)
        }
    }

    @Test("write through platform read fails", arguments: writeAttempts)
    func writeFails(_ sql: String, _ sqlState: String) async throws {
        try await Self.withPlatformReads { fixture, tenants, maintenance in
            let before = try await Self.allItems(fixture, tenants)
            #expect(before == ["alpha-corp:a1=original", "alpha-corp:a2=original", "beta-corp:b1=original"])
            try await PostgresTestServer.owner().execute(
                "GRANT INSERT, UPDATE, DELETE, TRUNCATE ON \(fixture.items) TO \(try PostgresIdentifier.quoted(maintenance.configuration.user))")

            let statement = PostgresQuery(unsafeSQL: sql.replacingOccurrences(of: "TABLE", with: fixture.items))
            let error = await #expect(throws: PostgresError.self) {
                try await TenantManager().withPlatformScope(reason: "test: write attempt") {
                    _ = try await tenants.platformQuery(statement)
                }
            }
            #expect(error?.code?.rawValue == sqlState)

            let after = try await Self.allItems(fixture, tenants)
            #expect(after == before)
            let readOnlyAfterwards = try await maintenance.query("SHOW transaction_read_only")[0].text("transaction_read_only")
            #expect(readOnlyAfterwards == "off")
        }
    }
}
