import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// Start-up checks against roles that could bypass the policies, created on purpose through
/// the superuser; and the verifier's findings.
@Suite("PostgreSQL row-level security roles and verifier", .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipMessage))
struct PostgresRowLevelSecurityRoleTests {
    /// Creates a login role with `attributes` and the grants a tenant database needs, and runs
    /// `setUp` SQL as the superuser, with `ROLE` replaced by the quoted role name. Then hands
    /// `body` a pool connected as that role, and drops the role afterwards, also when `body`
    /// throws.
    static func withRole<Result>(
        _ fixture: RowLevelSecurityFixture, attributes: String = "", setUp: [String] = [], _ body: (PostgresDatabase) async throws -> Result
    ) async throws -> Result {
        let name = "rls_probe_" + String(UUID().uuidString.lowercased().prefix(8))
        let password = UUID().uuidString
        let admin = try await PostgresTestServer.admin()
        let quotedName = try PostgresIdentifier.quoted(name)
        let schema = fixture.rls.quotedSchema
        try await admin.execute("CREATE ROLE \(quotedName) LOGIN PASSWORD '\(password)' \(attributes)")
        let grants = [
            "GRANT USAGE ON SCHEMA \(schema) TO ROLE", "GRANT SELECT ON \(schema).rls_tables TO ROLE",
            "GRANT EXECUTE ON FUNCTION \(schema).current_tenant() TO ROLE",
        ]
        var configuration = try PostgresConfiguration(url: try PostgresTestServer.urls().application)
        configuration.user = name
        configuration.password = password
        let pool = try PostgresDatabase(configuration, maximumConnections: 1)
        do {
            for statement in grants + setUp {
                try await admin.execute(statement.replacingOccurrences(of: "ROLE", with: quotedName))
            }
            let result = try await body(pool)
            await pool.close()
            try await dropRole(quotedName)
            return result
        } catch {
            await pool.close()
            try? await dropRole(quotedName)
            throw error
        }
    }

    /// Opens the tenant database as a role made by ``withRole(_:attributes:setUp:_:)`` and
    /// returns the start-up error, or nil when opening succeeded.
    static func openAs(
        _ fixture: RowLevelSecurityFixture, attributes: String = "", setUp: [String] = []
    ) async throws -> IsolationError? {
        try await withRole(fixture, attributes: attributes, setUp: setUp) { pool in
            do {
                _ = try await PostgresTenantDatabase(pool, binding: .verified(fixture.secret), rowLevelSecurity: fixture.rls)
                return nil
            } catch let error as IsolationError {
                return error
            }
        }
    }

    /// Returns the test database's name, quoted for SQL.
    static func quotedDatabaseName() throws -> String {
        try PostgresIdentifier.quoted(try PostgresConfiguration(url: try PostgresTestServer.urls().admin).database)
    }

    static func dropRole(_ quotedName: String) async throws {
        let admin = try await PostgresTestServer.admin()
        try await admin.execute("DROP OWNED BY \(quotedName)")
        try await admin.execute("DROP ROLE \(quotedName)")
    }

    @Test("plain role opens")
    func plainRoleOpens() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let error = try await Self.openAs(fixture)
            #expect(error == nil)
        }
    }

    @Test("role that lists prepared statements prepares none")
    func visiblePreparedStatements() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            // The view calls pg_prepared_statement() with the caller's privileges, so listing
            // needs both grants.
            let setUp = [
                "GRANT SELECT ON \(fixture.items) TO ROLE", "GRANT SELECT ON pg_catalog.pg_prepared_statements TO ROLE",
                "GRANT EXECUTE ON FUNCTION pg_catalog.pg_prepared_statement() TO ROLE",
            ]
            // The superuser SQL revokes on the same view, so the grant waits for the lock.
            let (capacity, prepared, ids, named, floatDigits) = try await PostgresTestServer.withDatabaseGrantsLocked {
                try await Self.withRole(fixture, setUp: setUp) { pool in
                    let tenants = try await PostgresTenantDatabase(pool, binding: .verified(fixture.secret), rowLevelSecurity: fixture.rls)
                    let asA = tenants.handle(forID: fixture.tenantA)
                    let rows = try await asA.query("SELECT id FROM \(unsafeSQL: fixture.items) ORDER BY id")
                    let (capacity, prepared) = try await pool.withCheckedOutConnection { connection in
                        (connection.box.preparedCapacity, connection.box.preparedNames.count)
                    }

                    // A's SQL lists the library's statements on the pool's one connection and
                    // would replace each, in one statement, with one that does nothing.
                    let names = try await asA.query("SELECT name FROM pg_catalog.pg_prepared_statements WHERE name LIKE 'tenancy\\_%'").map { try $0.text("name") }
                    for name in names {
                        try await asA.execute(PostgresQuery(unsafeSQL: """
                            DO $$ BEGIN EXECUTE 'DEALLOCATE \(name)'; EXECUTE 'PREPARE \(name) AS SELECT 1'; END $$
                            """))
                    }
                    try await asA.execute("SELECT pg_catalog.set_config('extra_float_digits', '-15', false)")
                    let asB = tenants.handle(forID: fixture.tenantB)
                    let digits = try await asB.query("SELECT pg_catalog.current_setting('extra_float_digits') AS digits")[0].text("digits")
                    return (capacity, prepared, try rows.map { try $0.text("id") }, names, digits)
                }
            }
            #expect(capacity == 0)
            #expect(prepared == 0)
            #expect(ids == ["a1", "a2"])
            // Nothing is prepared under a name, so the session reset still ran after A.
            #expect(named == [])
            #expect(floatDigits == "1")
        }
    }

    @Test("owner role is rejected")
    func ownerRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let owner = try await PostgresTestServer.owner()
            let error = await #expect(throws: IsolationError.self) {
                _ = try await PostgresTenantDatabase(owner, binding: .verified(fixture.secret), rowLevelSecurity: fixture.rls)
            }
            #expect(error?.code == .unsafeRole)
            #expect(error?.message.contains("the application role tenancy_owner owns the tenant tables \(fixture.rls.schema).items, \(fixture.rls.schema).notes") == true)
        }
    }

    @Test("superuser is rejected")
    func superuserRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let error = try await Self.openAs(fixture, attributes: "SUPERUSER")
            #expect(error?.code == .unsafeRole)
            #expect(error?.message.contains("is superuser") == true)
        }
    }

    @Test("BYPASSRLS is rejected")
    func bypassRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let error = try await Self.openAs(fixture, attributes: "BYPASSRLS")
            #expect(error?.code == .unsafeRole)
            #expect(error?.message.contains("has BYPASSRLS") == true)
        }
    }

    @Test("member of a BYPASSRLS role is rejected")
    func memberOfBypassRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let error = try await Self.openAs(fixture, setUp: ["GRANT tenancy_maintenance TO ROLE"])
            #expect(error?.code == .unsafeRole)
            #expect(error?.message.contains("is a member of role tenancy_maintenance, which has BYPASSRLS") == true)
        }
    }

    @Test("member of the owner through another role is rejected")
    func indirectOwnerRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let middle = "rls_middle_" + String(UUID().uuidString.lowercased().prefix(8))
            let admin = try await PostgresTestServer.admin()
            try await admin.execute("CREATE ROLE \(middle) NOLOGIN NOINHERIT")
            try await admin.execute("GRANT tenancy_owner TO \(middle)")
            let error = try await Self.openAs(fixture, setUp: ["GRANT \(middle) TO ROLE"])
            try await Self.dropRole(middle)
            #expect(error?.code == .unsafeRole)
            #expect(error?.message.contains("is a member of role tenancy_owner, which owns the tenant tables") == true)
        }
    }

    @Test("pg_read_all_data member is rejected")
    func readAllDataRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let error = try await Self.openAs(fixture, setUp: ["GRANT pg_read_all_data TO ROLE"])
            #expect(error?.code == .unsafeRole)
            #expect(error?.message.contains("can read or change the binding secret") == true)
        }
    }

    @Test("role with TEMPORARY on the database is rejected")
    func temporaryPrivilegeRejected() async throws {
        try await PostgresTestServer.withDatabaseGrantsLocked {
            try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
                let error = try await Self.openAs(fixture, setUp: ["GRANT TEMPORARY ON DATABASE \(try Self.quotedDatabaseName()) TO ROLE"])
                #expect(error?.code == .unsafeRole)
                #expect(error?.message.contains("may create temporary tables") == true)
            }
        }
    }

    @Test("pg_write_all_data member is rejected")
    func writeAllDataRejected() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let error = try await Self.openAs(fixture, setUp: ["GRANT pg_write_all_data TO ROLE"])
            #expect(error?.code == .unsafeRole)
            #expect(error?.message.contains("can read or change the binding secret") == true)
        }
    }

    @Test("superuser SQL creates the roles once")
    func superuserSQL() async throws {
        try await PostgresTestServer.withDatabaseGrantsLocked {
            let suffix = String(UUID().uuidString.lowercased().prefix(8))
            let roles = PostgresRowLevelSecurity.Roles(owner: "rls_own_" + suffix, application: "rls_app_" + suffix, maintenance: "rls_mnt_" + suffix)
            let rls = try PostgresRowLevelSecurity(schema: "test_rls_roles_" + suffix)
            let admin = try await PostgresTestServer.admin()
            let database = try PostgresConfiguration(url: try PostgresTestServer.urls().admin).database
            try await rls.installRoles(admin: admin, database: database, roles: roles)
            try await rls.installRoles(admin: admin, database: database, roles: roles)
            let rows = try await admin.query(
                "SELECT rolname::text AS name, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = ANY($1::text[]) ORDER BY rolname",
                [.text(PostgresIsolationVerifier.textArray([roles.owner, roles.application, roles.maintenance!]))])
            let schemaOwner = try await admin.query("SELECT pg_get_userbyid(nspowner)::text AS owner FROM pg_namespace WHERE nspname = $1", [.text(rls.schema)])
            try await admin.execute("DROP SCHEMA \(rls.quotedSchema) CASCADE")
            for role in [roles.owner, roles.application, roles.maintenance!] {
                try await Self.dropRole(try PostgresIdentifier.quoted(role))
            }
            let summary = try rows.map { "\(try $0.text("name")) super=\(try $0.boolean("rolsuper")) bypass=\(try $0.boolean("rolbypassrls")) login=\(try $0.boolean("rolcanlogin"))" }
            #expect(summary == [
                "rls_app_\(suffix) super=false bypass=false login=true",
                "rls_mnt_\(suffix) super=false bypass=true login=true",
                "rls_own_\(suffix) super=false bypass=false login=true",
            ])
            #expect(try schemaOwner.first?.text("owner") == roles.owner)
        }
    }

    // MARK: - Verifier

    @Test("verifier passes a clean installation")
    func verifierPasses() async throws {
        try await RowLevelSecurityFixture.with(check: .library) { (fixture: RowLevelSecurityFixture) async throws in
            let report = try await PostgresIsolationVerifier(fixture.tenants, owner: try await PostgresTestServer.owner(), schemas: [fixture.rls.schema]).verify()
            #expect(report.findings == [])
            #expect(report.probes.filter { !$0.passed } == [])
            #expect(report.probes.count == 11)
            #expect(report.tables.map(\.name) == ["\(fixture.rls.schema).items", "\(fixture.rls.schema).notes"])
            #expect(report.tables.allSatisfy { $0.filtered })
            #expect(report.tables.allSatisfy { $0.writesConfined })
            #expect(report.tables.allSatisfy { $0.keyLeadsWithTenantID })
            #expect(report.passed)
        }
    }

    @Test("verifier reports library tables open with the PL/pgSQL check")
    func verifierReportsPLpgSQLCheck() async throws {
        try await RowLevelSecurityFixture.with(check: .plpgsql) { (fixture: RowLevelSecurityFixture) async throws in
            let report = try await PostgresIsolationVerifier(fixture.tenants, owner: try await PostgresTestServer.owner(), schemas: [fixture.rls.schema]).verify()
            #expect(report.findings == [])
            let failed = report.probes.filter { !$0.passed }
            #expect(failed.map(\.name) == ["tenant A cannot read the library's tables"])
            #expect(failed.first?.detail.hasPrefix("read 3 rows of \(fixture.rls.schema).rls_tables: with the PL/pgSQL check, tenant SQL can use every table") == true)
            #expect(!report.passed)
        }
    }

    @Test("verifier reports definer view and function")
    func verifierFindings() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let owner = try await PostgresTestServer.owner()
            let schema = fixture.rls.quotedSchema
            try await owner.execute("CREATE VIEW \(schema).item_view AS SELECT * FROM \(fixture.items)")
            try await owner.execute("CREATE VIEW \(schema).safe_view WITH (security_invoker = true) AS SELECT * FROM \(fixture.items)")
            try await owner.execute("""
                CREATE FUNCTION \(schema).count_items() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS $$
                BEGIN RETURN (SELECT count(*) FROM \(fixture.rls.schema).items); END $$
                """)
            try await owner.execute("CREATE TABLE \(schema).loose (tenant_id text NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id))")
            try await owner.execute("ALTER TABLE \(fixture.notes) NO FORCE ROW LEVEL SECURITY")
            try await owner.execute("GRANT CREATE ON SCHEMA \(schema) TO \(fixture.pool.configuration.user)")

            let report = try await PostgresIsolationVerifier(fixture.tenants, owner: owner, schemas: [fixture.rls.schema]).verify()
            let subjects = report.findings.map(\.subject)
            #expect(subjects == [
                fixture.rls.schema, "\(fixture.rls.schema).count_items()", "\(fixture.rls.schema).item_view", "\(fixture.rls.schema).loose", "\(fixture.rls.schema).notes",
            ])
            #expect(report.findings.first { $0.subject.hasSuffix("item_view") }?.message.contains("security_invoker = true") == true)
            #expect(report.findings.first { $0.subject.hasSuffix("count_items()") }?.message.contains("SECURITY DEFINER") == true)
            #expect(report.findings.first { $0.subject.hasSuffix("notes") }?.message.contains("not forced") == true)
            #expect(report.findings.first { $0.subject == fixture.rls.schema }?.message.contains("may create objects") == true)
            #expect(report.tables.first { $0.name.hasSuffix("notes") }?.filtered == false)
            #expect(report.passed == false)
        }
    }

    /// The start-up check rejects a role with `TEMPORARY`, so the grant comes after opening,
    /// as it would when a DBA changes grants under a running application.
    @Test("verifier reports TEMPORARY granted after start-up")
    func verifierReportsTemporary() async throws {
        try await PostgresTestServer.withDatabaseGrantsLocked {
            try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
                let schema = fixture.rls.quotedSchema
                let (role, findings) = try await Self.withRole(fixture, setUp: ["GRANT SELECT ON \(schema).items, \(schema).notes TO ROLE"]) { pool in
                    let tenants = try await PostgresTenantDatabase(pool, binding: .verified(fixture.secret), rowLevelSecurity: fixture.rls)
                    let role = pool.configuration.user
                    try await PostgresTestServer.admin().execute("GRANT TEMPORARY ON DATABASE \(try Self.quotedDatabaseName()) TO \(try PostgresIdentifier.quoted(role))")
                    let report = try await PostgresIsolationVerifier(tenants, owner: try await PostgresTestServer.owner(), schemas: [fixture.rls.schema]).verify()
                    return (role, report.findings)
                }
                #expect(findings == [
                    IsolationReport.Finding(
                        subject: role,
                        message: "row-level security cannot hold: the application role \(role) may create temporary tables, which outlive a statement on a pooled connection "
                            + "and shadow the tables that the next tenant's SQL names without a schema; REVOKE TEMPORARY ON DATABASE ... FROM PUBLIC and from \(role), "
                            + "or connect the application as a role without it")
                ])
            }
        }
    }

    @Test("verifier lists every problem of a role")
    func verifierListsEveryRoleProblem() async throws {
        try await PostgresTestServer.withDatabaseGrantsLocked {
            try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
                let schema = fixture.rls.quotedSchema
                let (role, findings) = try await Self.withRole(fixture, setUp: ["GRANT SELECT ON \(schema).items, \(schema).notes TO ROLE"]) { pool in
                    let tenants = try await PostgresTenantDatabase(pool, binding: .verified(fixture.secret), rowLevelSecurity: fixture.rls)
                    let role = pool.configuration.user
                    let admin = try await PostgresTestServer.admin()
                    try await admin.execute("GRANT TEMPORARY ON DATABASE \(try Self.quotedDatabaseName()) TO \(try PostgresIdentifier.quoted(role))")
                    try await admin.execute("GRANT pg_read_all_data TO \(try PostgresIdentifier.quoted(role))")
                    let report = try await PostgresIsolationVerifier(tenants, owner: try await PostgresTestServer.owner(), schemas: [fixture.rls.schema]).verify()
                    return (role, report.findings)
                }
                let ownFindings = findings.filter { $0.subject == role }.map(\.message)
                #expect(ownFindings.count == 2)
                #expect(ownFindings.first?.contains("the application role \(role) can read or change the binding secret") == true)
                #expect(ownFindings.last?.contains("the application role \(role) may create temporary tables") == true)
                #expect(findings.filter { $0.subject == "pg_read_all_data" }.map(\.message) == [
                    "row-level security cannot hold: the application role \(role) is a member of role pg_read_all_data, which can read or change the binding secret "
                        + "(a grant, pg_read_all_data or pg_write_all_data), so it could sign any tenant's binding; "
                        + "REVOKE the privilege on binding_secret and binding_inner_key() or REVOKE pg_read_all_data FROM \(role), "
                        + "or connect the application as a role without it"
                ])
            }
        }
    }
}
