import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// Two tenants placed in databases of their own, with a registry schema and a manager of
/// their own. `with` drops both databases and roles afterwards, also when the body throws.
struct DatabasePerTenantFixture {
    let manager: TenantManager
    let databases: PostgresDatabasePerTenant
    let tenantA: Tenant
    let tenantB: Tenant

    static let migrations = [
        PostgresMigration(version: 1, name: "create notes", sql: """
            CREATE TABLE notes (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL);
            """),
    ]

    static func with<Result>(maximumOpenPools: Int = 8, _ body: (DatabasePerTenantFixture) async throws -> Result) async throws -> Result {
        try await PostgresTestServer.withRegistrySchema { schema in
            let manager = try await TenantManager.postgres(try await PostgresTestServer.application(), schema: schema)
            let databases = try await PostgresDatabasePerTenant(
                owner: try await PostgresTestServer.owner(), schema: schema, manager: manager, migrations: migrations,
                admin: try await PostgresTestServer.admin(), maximumOpenPools: maximumOpenPools)
            // Databases and roles are cluster-wide, so each run needs tenant ids of its own.
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let idA = try TenantID(validating: "silo-a-\(suffix)")
            let idB = try TenantID(validating: "silo-b-\(suffix)")
            do {
                try await manager.createTenant(name: "Silo A", tier: .business, adminEmail: "ops@a.example", id: idA)
                try await manager.createTenant(name: "Silo B", tier: .business, adminEmail: "ops@b.example", id: idB)
                let fixture = DatabasePerTenantFixture(
                    manager: manager, databases: databases,
                    tenantA: try await databases.place(idA), tenantB: try await databases.place(idB))
                let result = try await body(fixture)
                try await databases.dropDatabase(of: idA)
                try await databases.dropDatabase(of: idB)
                return result
            } catch {
                _ = try? await databases.dropDatabase(of: idA)
                _ = try? await databases.dropDatabase(of: idB)
                throw error
            }
        }
    }

    /// Returns the stored password of a tenant, read as the owner role.
    func storedPassword(of tenantID: TenantID) async throws -> String {
        let rows = try await databases.owner.query(
            "SELECT password FROM \(databases.schema.table("tenancy_tenant_databases")) WHERE tenant_id = $1", [.text(tenantID.rawValue)])
        return try #require(rows.first).text("password")
    }
}

@Suite("PostgreSQL database per tenant", .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipMessage))
struct PostgresDatabasePerTenantTests {
    @Test("placement recorded per tenant")
    func placementRecorded() async throws {
        try await DatabasePerTenantFixture.with { fixture in
            let expected = fixture.databases.databaseName(of: fixture.tenantA.id)
            #expect(fixture.tenantA.placement == .database(name: expected))
            #expect(try await fixture.manager.tenant(fixture.tenantA.id).placement == .database(name: expected))

            let records = try await fixture.manager.auditRecords(tenantID: fixture.tenantA.id)
            let placed = records.filter { $0.action == .placementChanged }
            #expect(placed.count == 1)
            #expect(placed.first?.detail == "pool -> database:\(expected)")

            let settings = try #require(try await fixture.databases.connectionSettings(of: fixture.tenantA.id))
            #expect(settings.database == expected)
            #expect(settings.role == expected)
            #expect(settings.password.count == 64)
            #expect(settings.password.allSatisfy { "0123456789abcdef".contains($0) })
        }
    }

    @Test("each handle sees only its own database")
    func handlesSeeOwnDatabase() async throws {
        try await DatabasePerTenantFixture.with { fixture in
            let handleA = try await fixture.databases.handle(for: fixture.tenantA)
            let handleB = try await fixture.databases.handle(for: fixture.tenantB)

            // Full SQL: RETURNING and identity columns work, as there is no view in between.
            let insertedA = try await handleA.query("INSERT INTO notes (body) VALUES (\("note of A")) RETURNING id")
            #expect(try insertedA.first?.integer("id") == 1)
            try await handleB.execute("INSERT INTO notes (body) VALUES (\("note of B")), (\("second note of B"))")

            let rowsA = try await handleA.query("SELECT body FROM notes ORDER BY id")
            #expect(try rowsA.map { try $0.text("body") } == ["note of A"])
            let rowsB = try await handleB.query("SELECT body FROM notes ORDER BY id")
            #expect(try rowsB.map { try $0.text("body") } == ["note of B", "second note of B"])

            let whoA = try #require(try await handleA.query("SELECT current_database() AS database, current_user AS role").first)
            #expect(try whoA.text("database") == fixture.databases.databaseName(of: fixture.tenantA.id))
            #expect(try whoA.text("role") == fixture.databases.databaseName(of: fixture.tenantA.id))

            let counted = try await handleB.transaction { transaction in
                try transaction.execute("DELETE FROM notes WHERE body = \("second note of B")")
                return try transaction.query("SELECT count(*) AS n FROM notes").first?.integer("n")
            }
            #expect(counted == 1)
        }
    }

    @Test("role cannot connect to another database")
    func roleCannotConnectElsewhere() async throws {
        try await DatabasePerTenantFixture.with { fixture in
            let settingsA = try #require(try await fixture.databases.connectionSettings(of: fixture.tenantA.id))
            var intoB = settingsA.configuration(template: fixture.databases.owner.configuration)
            intoB.database = fixture.databases.databaseName(of: fixture.tenantB.id)
            let pool = try PostgresDatabase(intoB, maximumConnections: 1)
            defer { Task { await pool.close() } }

            // The server rejects the start-up with SQLSTATE 42501 ("permission denied for
            // database"), but libpq reports start-up failures as text only, so the error has
            // no code and the check reads libpq's message.
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
            #expect(error?.kind == .connectionFailed)
            #expect(error?.code == nil)
            #expect(error?.message.contains("permission denied for database") == true)

            let privileges = try await PostgresTestServer.admin().query(
                "SELECT has_database_privilege($1, $2, 'CONNECT') AS own, has_database_privilege($1, $3, 'CONNECT') AS other",
                [.text(settingsA.role), .text(settingsA.database), .text(intoB.database)])
            #expect(try privileges.first?.boolean("own") == true)
            #expect(try privileges.first?.boolean("other") == false)
        }
    }

    @Test("application role cannot read placements")
    func applicationRoleCannotReadPlacements() async throws {
        try await DatabasePerTenantFixture.with { fixture in
            let table = fixture.databases.schema.table("tenancy_tenant_databases")
            let error = await #expect(throws: PostgresError.self) {
                try await PostgresTestServer.application().query("SELECT password FROM \(table)")
            }
            #expect(error?.code == .insufficientPrivilege)
        }
    }

    @Test("password never in descriptions")
    func passwordHidden() async throws {
        try await DatabasePerTenantFixture.with { fixture in
            let password = try await fixture.storedPassword(of: fixture.tenantA.id)
            #expect(password.count == 64)
            let settings = try #require(try await fixture.databases.connectionSettings(of: fixture.tenantA.id))
            let configuration = settings.configuration(template: fixture.databases.owner.configuration)
            let handle = try await fixture.databases.handle(for: fixture.tenantA)
            var dumped = ""
            dump(settings, to: &dumped)

            var wrongDatabase = configuration
            wrongDatabase.database = fixture.databases.databaseName(of: fixture.tenantB.id)
            let failing = try PostgresDatabase(wrongDatabase, maximumConnections: 1)
            let connectError = await #expect(throws: PostgresError.self) { try await failing.query("SELECT 1") }
            await failing.close()

            let texts = [
                "\(settings)", String(reflecting: settings), dumped, "\(configuration)", "\(handle)",
                connectError.map { "\($0)" } ?? "", connectError.map { String(reflecting: $0) } ?? "",
            ]
            for text in texts {
                #expect(!text.contains(password), "a description contains the password: \(text.count) characters")
            }
            #expect("\(settings)" == "postgres://\(settings.role)@\(settings.host):\(settings.port)/\(settings.database)")

            // The server stores a SCRAM verifier, computed on the client, never the password.
            let stored = try await PostgresTestServer.admin().query(
                "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1", [.text(settings.role)])
            let verifier = try #require(stored.first).text("rolpassword")
            #expect(verifier.hasPrefix("SCRAM-SHA-256$4096:"))
            #expect(!verifier.contains(password))
        }
    }

    @Test("second placement keeps the password")
    func placementRepeatable() async throws {
        try await DatabasePerTenantFixture.with { fixture in
            let before = try await fixture.storedPassword(of: fixture.tenantA.id)
            let handle = try await fixture.databases.handle(for: fixture.tenantA)
            try await handle.execute("INSERT INTO notes (body) VALUES (\("kept"))")

            let again = try await fixture.databases.place(fixture.tenantA.id)
            #expect(again.placement == fixture.tenantA.placement)
            #expect(try await fixture.storedPassword(of: fixture.tenantA.id) == before)
            let rows = try await handle.query("SELECT body FROM notes")
            #expect(try rows.map { try $0.text("body") } == ["kept"])

            let records = try await fixture.manager.auditRecords(tenantID: fixture.tenantA.id)
            #expect(records.filter { $0.action == .placementChanged }.count == 1)
        }
    }

    @Test("place rejects a foreign role of that name")
    func placeRejectsForeignRole() async throws {
        try await DatabasePerTenantFixture.with { fixture in
            let tenant = try await fixture.manager.createTenant(
                name: "Silo C", tier: .free, adminEmail: "ops@c.example",
                id: try TenantID(validating: "silo-c-\(UUID().uuidString.prefix(8).lowercased())"))
            let name = fixture.databases.databaseName(of: tenant.id)
            let admin = try await PostgresTestServer.admin()
            try await admin.execute("CREATE ROLE \(try PostgresIdentifier.quoted(name)) NOLOGIN")
            defer { Task { try? await admin.execute("DROP ROLE IF EXISTS \(try PostgresIdentifier.quoted(name))") } }

            let error = await #expect(throws: PostgresError.self) { try await fixture.databases.place(tenant.id) }
            #expect(error?.kind == .invalidConfiguration)
            #expect(error?.message.contains("exists but no placement is stored") == true)
            #expect(try await fixture.databases.connectionSettings(of: tenant.id) == nil)
            #expect(try await fixture.manager.tenant(tenant.id).placement == .pool)
        }
    }

    @Test("handle of pooled tenant rejected")
    func pooledTenantRejected() async throws {
        try await DatabasePerTenantFixture.with { fixture in
            let pooled = try await fixture.manager.createTenant(
                name: "Pooled", tier: .free, adminEmail: "ops@pooled.example",
                id: try TenantID(validating: "pooled-\(UUID().uuidString.prefix(8).lowercased())"))
            let error = await #expect(throws: IsolationError.self) { try await fixture.databases.handle(for: pooled) }
            #expect(error?.code == .notPlaced)
        }
    }

    @Test("least recently used pool closed first")
    func poolCacheBounded() async throws {
        try await DatabasePerTenantFixture.with(maximumOpenPools: 1) { fixture in
            let handleA = try await fixture.databases.handle(for: fixture.tenantA)
            try await handleA.execute("INSERT INTO notes (body) VALUES (\("a"))")
            let handleB = try await fixture.databases.handle(for: fixture.tenantB)
            try await handleB.execute("INSERT INTO notes (body) VALUES (\("b"))")
            #expect(fixture.databases.openPoolCount == 1)

            // A's pool was closed when B's opened; A's handle reopens it.
            let rows = try await handleA.query("SELECT body FROM notes")
            #expect(try rows.map { try $0.text("body") } == ["a"])
            #expect(fixture.databases.openPoolCount == 1)
        }
    }

    @Test("purge drops database and role")
    func purgeDropsDatabaseAndRole() async throws {
        try await DatabasePerTenantFixture.with { fixture in
            let purger = PostgresTenantDatabasePurger(fixture.databases)
            let name = fixture.databases.databaseName(of: fixture.tenantA.id)
            let handle = try await fixture.databases.handle(for: fixture.tenantA)
            try await handle.execute("INSERT INTO notes (body) VALUES (\("gone"))")

            // An open session in the database must not block the drop.
            let settings = try #require(try await fixture.databases.connectionSettings(of: fixture.tenantA.id))
            let session = try await PostgresConnection.connect(settings.configuration(template: fixture.databases.owner.configuration))

            #expect(try await purger.purge(fixture.tenantA.id) == 3)
            await session.close()

            let admin = try await PostgresTestServer.admin()
            #expect(try await admin.query("SELECT FROM pg_catalog.pg_database WHERE datname = $1", [.text(name)]).isEmpty)
            #expect(try await admin.query("SELECT FROM pg_catalog.pg_roles WHERE rolname = $1", [.text(name)]).isEmpty)
            #expect(try await fixture.databases.connectionSettings(of: fixture.tenantA.id) == nil)

            #expect(try await purger.purge(fixture.tenantA.id) == 0)
            let error = await #expect(throws: IsolationError.self) { try await handle.query("SELECT 1") }
            #expect(error?.code == .notPlaced)

            // Tenant B is untouched.
            let handleB = try await fixture.databases.handle(for: fixture.tenantB)
            #expect(try await handleB.query("SELECT count(*) AS n FROM notes").first?.integer("n") == 0)
        }
    }
}
