import Foundation
import TenancyPostgres
import Testing

/// The PostgreSQL server `./scripts/test` starts, found through its environment variables.
/// Without them a plain `swift test` skips these tests; with `TENANCY_TEST_REQUIRE_BACKENDS=1`
/// a missing variable fails them.
enum CLIPostgresServer {
    static let environment = ProcessInfo.processInfo.environment
    static let variables = ["TENANCY_TEST_POSTGRES_URL", "TENANCY_TEST_POSTGRES_OWNER_URL"]
    static let isConfigured = variables.allSatisfy { environment[$0]?.isEmpty == false }
    static let shouldRun = isConfigured || environment["TENANCY_TEST_REQUIRE_BACKENDS"] == "1"
    static let skipMessage: Comment = "PostgreSQL CLI tests need a server: run ./scripts/test, which starts one and sets TENANCY_TEST_POSTGRES_URL"

    struct MissingServerError: Error {}

    /// Returns the application and owner URLs, or records an issue naming the missing variables.
    static func urls() throws -> (application: String, owner: String) {
        let missing = variables.filter { environment[$0]?.isEmpty != false }
        guard missing.isEmpty else {
            Issue.record("missing \(missing.joined(separator: ", ")) although TENANCY_TEST_REQUIRE_BACKENDS=1: run the tests through ./scripts/test")
            throw MissingServerError()
        }
        return (environment["TENANCY_TEST_POSTGRES_URL"]!, environment["TENANCY_TEST_POSTGRES_OWNER_URL"]!)
    }

    /// Returns the superuser's URL, or records an issue when it is missing.
    static func adminURL() throws -> String {
        guard let url = environment["TENANCY_TEST_POSTGRES_ADMIN_URL"], !url.isEmpty else {
            Issue.record("missing TENANCY_TEST_POSTGRES_ADMIN_URL although TENANCY_TEST_REQUIRE_BACKENDS=1: run the tests through ./scripts/test")
            throw MissingServerError()
        }
        return url
    }

    /// Returns `url` with its database replaced by `database`.
    static func url(_ url: String, database: String) throws -> String {
        guard let slash = url.range(of: "/", options: .backwards), !url[slash.upperBound...].contains("@") else {
            throw MissingServerError()
        }
        return String(url[..<slash.upperBound]) + database
    }

    /// Returns the maintenance role's URL (`tenancy_maintenance`, with BYPASSRLS), or records
    /// an issue when it is missing.
    static func maintenanceURL() throws -> String {
        guard let url = environment["TENANCY_TEST_POSTGRES_MAINTENANCE_URL"], !url.isEmpty else {
            Issue.record("missing TENANCY_TEST_POSTGRES_MAINTENANCE_URL although TENANCY_TEST_REQUIRE_BACKENDS=1: run the tests through ./scripts/test")
            throw MissingServerError()
        }
        return url
    }
}

/// A registry in a schema of its own on the test server, dropped when the test ends.
struct PostgresWorkspace {
    let application: String
    let owner: String
    let schema = "cli_test_" + String(UUID().uuidString.lowercased().prefix(8))
    let secret = PostgresBindingSecret.generate().hexEncoded

    init() throws {
        (application, owner) = try CLIPostgresServer.urls()
    }

    /// Runs `tenancy` with `arguments` against this workspace's schema, with the owner URL.
    func run(_ arguments: String..., withOwner: Bool = true) async throws -> CLIResult {
        var options = ["--database", application, "--schema", schema]
        if withOwner {
            options += ["--owner-database", owner]
        }
        return try await TenancyExecutable.run(arguments + options, environment: [PostgresBindingSecret.environmentVariable: secret])
    }

    /// Creates the schema as the superuser with the C binding functions in it, as the SQL that
    /// `tenancy roles-sql` prints does, so the first `create` installs the C check.
    func prepareBindingLibrary() async throws {
        let admin = try PostgresDatabase(url: try CLIPostgresServer.adminURL(), maximumConnections: 1)
        let ownerRole = try PostgresConfiguration(url: owner).user
        let applicationRole = try PostgresConfiguration(url: application).user
        try await PostgresRowLevelSecurity(schema: schema).installBindingLibrary(admin: admin, owner: ownerRole, applicationRole: applicationRole)
        await admin.close()
    }

    /// Runs SQL as the owner role.
    func ownerExecute(_ sql: String) async throws {
        let database = try PostgresDatabase(url: owner, maximumConnections: 1)
        try await database.execute(sql)
        await database.close()
    }

    func drop() async throws {
        try await ownerExecute("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE")
    }
}

@Suite(.enabled(if: CLIPostgresServer.shouldRun, CLIPostgresServer.skipMessage), .serialized)
struct PostgresCommandTests {
    @Test func registryCommandsOnPostgres() async throws {
        let workspace = try PostgresWorkspace()
        defer { Task { try? await workspace.drop() } }

        let withoutOwner = try await workspace.run("create", "--id", "acme", "--name", "Acme", "--tier", "business", "--admin-email", "admin@acme.example", withOwner: false)
        #expect(withoutOwner.status == 2)
        #expect(withoutOwner.stderr.hasPrefix(
            "error: installing the registry in schema '\(workspace.schema)' needs the owner role: pass --owner-database URL or set TENANCY_OWNER_DATABASE_URL\n"))

        let created = try await workspace.run("create", "--id", "acme", "--name", "Acme", "--tier", "business", "--admin-email", "admin@acme.example")
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.hasPrefix("Created tenant 'acme'.\n"))
        #expect(created.field("Tier") == "business")
        #expect(created.field("Placement") == "pool")
        let second = try await workspace.run("create", "--id", "globex", "--name", "Globex", "--tier", "free", "--admin-email", "ops@globex.example", withOwner: false)
        #expect(second.status == 0, "\(second.stderr)")

        let list = try await workspace.run("list", "--json", withOwner: false)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(try list.jsonArray().map { $0["id"] as? String } == ["acme", "globex"])

        let show = try await workspace.run("show", "acme", withOwner: false)
        #expect(show.status == 0)
        #expect(show.field("Admin e-mail") == "admin@acme.example")
        #expect(show.field("Status") == "active")

        let suspend = try await workspace.run("suspend", "acme", withOwner: false)
        #expect(suspend.stdout == "Suspended tenant 'acme': active -> suspended.\n")

        let delete = try await workspace.run("delete", "globex", "--purge", withOwner: false)
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(delete.stdout.hasPrefix("Deleted tenant 'globex' and purged its data.\n"))
        #expect(delete.stdout.contains("postgres-tenant-rows"))

        let missing = try await workspace.run("show", "initech", withOwner: false)
        #expect(missing.status == 3)
    }

    @Test(arguments: [true, false])
    func sqlSeesOnlyTenantRows(withBindingLibrary: Bool) async throws {
        let workspace = try PostgresWorkspace()
        defer { Task { try? await workspace.drop() } }
        if withBindingLibrary {
            try await workspace.prepareBindingLibrary()
        }
        for id in ["acme", "globex"] {
            let result = try await workspace.run("create", "--id", id, "--name", id, "--tier", "free", "--admin-email", "a@\(id).example")
            #expect(result.status == 0, "\(result.stderr)")
        }
        let table = "\"\(workspace.schema)\".notes"
        try await workspace.ownerExecute("CREATE TABLE \(table) (tenant_id text COLLATE \"C\" NOT NULL, id text NOT NULL, PRIMARY KEY (tenant_id, id))")
        let protected = try await workspace.run("protect", "notes", "--table-schema", workspace.schema)
        #expect(protected.status == 0, "\(protected.stderr)")
        #expect(protected.stdout == "Protected table \(workspace.schema).notes.\n")
        let withoutOwner = try await workspace.run("protect", "notes", "--table-schema", workspace.schema, withOwner: false)
        #expect(withoutOwner.status == 2)
        #expect(withoutOwner.stderr.hasPrefix("error: 'protect' on PostgreSQL needs the owner role"))

        let insertA = try await workspace.run("sql", "--tenant", "acme", "INSERT INTO \(table) VALUES ('acme', 'n1'), ('acme', 'n2')", withOwner: false)
        #expect(insertA.stdout == "2 rows changed.\n", "\(insertA.stderr)")
        let insertB = try await workspace.run("sql", "--tenant", "globex", "INSERT INTO \(table) VALUES ('globex', 'n1')", withOwner: false)
        #expect(insertB.stdout == "1 row changed.\n", "\(insertB.stderr)")

        let read = try await workspace.run("sql", "--tenant", "acme", "SELECT tenant_id, id FROM \(table) ORDER BY id", withOwner: false)
        #expect(read.status == 0)
        #expect(read.stdout == "tenant_id  id\nacme       n1\nacme       n2\n\n(2 rows)\n")

        // With the PL/pgSQL check the forged setting replaces the verified one inside the
        // statement, so the policy finds no valid tenant and returns no rows at all. The C check
        // reads no setting, so the statement still returns acme's rows only.
        let forged = try await workspace.run(
            "sql", "--tenant", "acme", "SELECT n.* FROM \(table) n, (SELECT set_config('tenancy.tenant_id', 'globex', true)) AS f ORDER BY n.id",
            withOwner: false)
        #expect(forged.status == 0, "\(forged.stderr)")
        #expect(forged.stdout == (withBindingLibrary ? "tenant_id  id\nacme       n1\nacme       n2\n\n(2 rows)\n" : "No rows.\n"))

        // Tenant SQL and the registry: the C check rejects the library's tables.
        let registry = try await workspace.run(
            "sql", "--tenant", "acme", "SELECT admin_email FROM \"\(workspace.schema)\".tenancy_tenants WHERE id = 'globex'", withOwner: false)
        if withBindingLibrary {
            #expect(registry.status == 4, "\(registry.stdout)\(registry.stderr)")
            #expect(registry.stderr.contains("tenancy binding: a tenant transaction cannot use the library table \(workspace.schema).tenancy_tenants"))
        } else {
            #expect(registry.stdout == "admin_email\na@globex.example\n\n(1 row)\n")
        }

        let rehome = try await workspace.run("sql", "--tenant", "acme", "UPDATE \(table) SET tenant_id = 'globex'", withOwner: false)
        #expect(rehome.status == 4)
        #expect(rehome.stderr.contains("SQLSTATE 42501"))

        let withoutSecret = try await TenancyExecutable.run(
            ["sql", "--tenant", "acme", "SELECT 1", "--database", workspace.application, "--schema", workspace.schema],
            environment: [PostgresBindingSecret.environmentVariable: ""])
        #expect(withoutSecret.status == 2)
        #expect(withoutSecret.stderr.hasPrefix("error: missing TENANCY_BINDING_SECRET: "))
        #expect(!withoutSecret.stderr.contains(workspace.application))

        // Other tests share the database, so this run searches only the workspace's schema.
        let verify = try await workspace.run("verify", "--only-schema", workspace.schema)
        #expect(verify.stdout.contains("\(workspace.schema).notes  yes       yes              ok\n"))
        if withBindingLibrary {
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.hasPrefix("Binding check: C check from the tenancy_binding library\n"))
            #expect(verify.stdout.hasSuffix("Passed: 0 findings, 10 of 10 probes passed.\n"))
        } else {
            #expect(verify.status == 4)
            #expect(verify.stdout.hasPrefix("Binding check: PL/pgSQL check\n"))
            #expect(verify.stdout.contains("tenant A cannot read the library's tables"))
        }

        // An unprotected table with a tenant_id column in the schema is a finding.
        try await workspace.ownerExecute("CREATE TABLE \"\(workspace.schema)\".loose (tenant_id text NOT NULL, PRIMARY KEY (tenant_id))")
        let finding = try await workspace.run("verify", "--only-schema", workspace.schema)
        #expect(finding.status == 4)
        #expect(finding.stdout.contains("the table \(workspace.schema).loose has a tenant_id column but is not protected"))
    }

    @Test func createWithoutSecretInstallsNothing() async throws {
        let workspace = try PostgresWorkspace()
        defer { Task { try? await workspace.drop() } }
        let result = try await TenancyExecutable.run(
            ["create", "--id", "acme", "--name", "Acme", "--tier", "free", "--admin-email", "a@acme.example",
             "--database", workspace.application, "--owner-database", workspace.owner, "--schema", workspace.schema],
            environment: [PostgresBindingSecret.environmentVariable: ""])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: missing TENANCY_BINDING_SECRET: "))
        let owner = try PostgresDatabase(url: workspace.owner, maximumConnections: 1)
        let tables = try await owner.query("SELECT count(*) AS n FROM pg_catalog.pg_tables WHERE schemaname = $1", [.text(workspace.schema)])
        await owner.close()
        #expect(try tables[0].integer("n") == 0)
    }

    @Test func sqlErrorsShowServerMessageAndTimeLimit() async throws {
        let workspace = try PostgresWorkspace()
        defer { Task { try? await workspace.drop() } }
        let created = try await workspace.run("create", "--id", "acme", "--name", "Acme", "--tier", "free", "--admin-email", "a@acme.example")
        #expect(created.status == 0, "\(created.stderr)")

        let syntax = try await workspace.run("sql", "--tenant", "acme", "SELEC 1", withOwner: false)
        #expect(syntax.status == 1)
        #expect(syntax.stderr.contains("SQLSTATE 42601"))
        #expect(syntax.stderr.contains("\nserver message: syntax error at or near \"SELEC\"\n"))

        // The CLI's time limit is 5 seconds; a statement past it is rejected, as on SQLite.
        let slow = try await workspace.run("sql", "--tenant", "acme", "SELECT pg_sleep(30)", withOwner: false)
        #expect(slow.status == 4, "\(slow.stderr)")
        #expect(slow.stderr.contains("time limit"))
    }

    @Test func verifySearchesEverySchemaByDefault() async throws {
        let workspace = try PostgresWorkspace()
        defer { Task { try? await workspace.drop() } }
        let created = try await workspace.run("create", "--id", "acme", "--name", "Acme", "--tier", "free", "--admin-email", "a@acme.example")
        #expect(created.status == 0, "\(created.stderr)")
        let other = "\(workspace.schema)_app"
        try await workspace.ownerExecute("CREATE SCHEMA \"\(other)\"")
        try await workspace.ownerExecute("CREATE TABLE \"\(other)\".orders (tenant_id text NOT NULL, id text NOT NULL, PRIMARY KEY (tenant_id, id))")
        defer { Task { try? await workspace.ownerExecute("DROP SCHEMA \"\(other)\" CASCADE") } }

        // A table that another installation of the library protects is not a finding here.
        let protectedElsewhere = "\(workspace.schema)_installed"
        try await workspace.ownerExecute("CREATE SCHEMA \"\(protectedElsewhere)\"")
        defer { Task { try? await workspace.ownerExecute("DROP SCHEMA \"\(protectedElsewhere)\" CASCADE") } }
        try await workspace.ownerExecute(
            "CREATE TABLE \"\(protectedElsewhere)\".debates (tenant_id text NOT NULL, id text NOT NULL, PRIMARY KEY (tenant_id, id))")
        let ownerPool = try PostgresDatabase(url: workspace.owner, maximumConnections: 1)
        let applicationRole = try PostgresConfiguration(url: workspace.application).user
        let elsewhere = try PostgresRowLevelSecurity(schema: protectedElsewhere)
        try await elsewhere.install(owner: ownerPool, applicationRole: applicationRole, binding: .verified(.generate()))
        try await elsewhere.protect(table: "debates", schema: protectedElsewhere, owner: ownerPool, applicationRole: applicationRole)
        await ownerPool.close()

        let everywhere = try await workspace.run("verify")
        #expect(everywhere.status == 4)
        #expect(everywhere.stdout.contains("the table \(other).orders has a tenant_id column but is not protected"))
        #expect(!everywhere.stdout.contains("\(protectedElsewhere).debates"))

        let scoped = try await workspace.run("verify", "--only-schema", workspace.schema)
        #expect(!scoped.stdout.contains("\(other).orders"))

        let invalid = try await workspace.run("verify", "--only-schema", "a,,b")
        #expect(invalid.status == 2)
        #expect(invalid.stderr.hasPrefix("error: invalid schema name '' in --only-schema: expected comma-separated schema names such as 'tenancy,public'\n"))
    }

    @Test func sqlPlatformNamesMissingMaintenanceGrant() async throws {
        let workspace = try PostgresWorkspace()
        defer { Task { try? await workspace.drop() } }
        let maintenanceURL = try CLIPostgresServer.maintenanceURL()
        let created = try await workspace.run("create", "--id", "acme", "--name", "Acme", "--tier", "free", "--admin-email", "a@acme.example")
        #expect(created.status == 0, "\(created.stderr)")
        // The schema and its table were never granted to the maintenance role.
        try await workspace.ownerExecute("CREATE TABLE \"\(workspace.schema)\".ungranted (tenant_id text NOT NULL, PRIMARY KEY (tenant_id))")
        let read = try await workspace.run(
            "sql", "--platform", "--reason", "report", "SELECT * FROM \"\(workspace.schema)\".ungranted",
            "--maintenance-database", maintenanceURL, withOwner: false)
        #expect(read.status == 1)
        #expect(read.stderr.hasPrefix("error: the maintenance role may not read what the statement names (SQLSTATE 42501): protect the table with"))
        #expect(read.stderr.contains("\nserver message: permission denied for schema \(workspace.schema)\n"))
    }

    @Test func sqlPlatformReadsAcrossTenants() async throws {
        let workspace = try PostgresWorkspace()
        defer { Task { try? await workspace.drop() } }
        let maintenanceURL = try CLIPostgresServer.maintenanceURL()
        let maintenanceRole = try PostgresConfiguration(url: maintenanceURL).user
        for id in ["acme", "globex"] {
            let result = try await workspace.run("create", "--id", id, "--name", id, "--tier", "free", "--admin-email", "a@\(id).example")
            #expect(result.status == 0, "\(result.stderr)")
        }
        let table = "\"\(workspace.schema)\".notes"
        try await workspace.ownerExecute("CREATE TABLE \(table) (tenant_id text COLLATE \"C\" NOT NULL, id text NOT NULL, PRIMARY KEY (tenant_id, id))")
        try await workspace.ownerExecute("GRANT USAGE ON SCHEMA \"\(workspace.schema)\" TO \(maintenanceRole)")
        let owner = try PostgresDatabase(url: workspace.owner, maximumConnections: 1)
        let application = try PostgresConfiguration(url: workspace.application).user
        try await PostgresRowLevelSecurity(schema: workspace.schema).protect(
            table: "notes", schema: workspace.schema, owner: owner, applicationRole: application, maintenanceRole: maintenanceRole)
        await owner.close()
        _ = try await workspace.run("sql", "--tenant", "acme", "INSERT INTO \(table) VALUES ('acme', 'n1'), ('acme', 'n2')", withOwner: false)
        _ = try await workspace.run("sql", "--tenant", "globex", "INSERT INTO \(table) VALUES ('globex', 'n1')", withOwner: false)
        let countSQL = "SELECT tenant_id, count(*) AS n FROM \(table) GROUP BY tenant_id ORDER BY tenant_id"

        let read = try await workspace.run(
            "sql", "--platform", "--reason", "notes per tenant", countSQL, "--maintenance-database", maintenanceURL, withOwner: false)
        #expect(read.status == 0, "\(read.stderr)")
        #expect(read.stdout == "tenant_id  n\nacme       2\nglobex     1\n\n(2 rows)\n")

        let fromVariable = try await TenancyExecutable.run(
            ["sql", "--platform", "--reason", "notes per tenant", countSQL, "--json", "--database", workspace.application, "--schema", workspace.schema],
            environment: [PostgresBindingSecret.environmentVariable: workspace.secret, "TENANCY_MAINTENANCE_DATABASE_URL": maintenanceURL])
        #expect(fromVariable.status == 0, "\(fromVariable.stderr)")
        #expect(try fromVariable.jsonArray().map { "\($0["tenant_id"] ?? "") \($0["n"] ?? "")" } == ["acme 2", "globex 1"])

        let write = try await workspace.run(
            "sql", "--platform", "--reason", "try a write", "DELETE FROM \(table)", "--maintenance-database", maintenanceURL, withOwner: false)
        #expect(write.status == 4)
        #expect(write.stdout == "")
        #expect(write.stderr == "error: the statement tried to write, and 'sql --platform' runs it in a read-only transaction, so nothing changed (SQLSTATE 25006); "
            + "change a tenant's rows with 'sql --tenant ID'\n")
        let afterWrite = try await workspace.run(
            "sql", "--platform", "--reason", "notes per tenant", countSQL, "--maintenance-database", maintenanceURL, withOwner: false)
        #expect(afterWrite.stdout == read.stdout)

        let audit = try await workspace.run("audit", "--json", withOwner: false)
        let platformDetails = try audit.jsonArray().filter { $0["action"] as? String == "context.platform-scope" }.map { $0["detail"] as? String }
        #expect(platformDetails == ["reason: notes per tenant", "reason: notes per tenant", "reason: try a write", "reason: notes per tenant"])

        let withoutMaintenance = try await workspace.run("sql", "--platform", "--reason", "notes per tenant", countSQL, withOwner: false)
        #expect(withoutMaintenance.status == 2)
        #expect(withoutMaintenance.stderr.hasPrefix(
            "error: 'sql --platform' reads every tenant's rows through the maintenance role, a read-only role with BYPASSRLS: "
                + "pass --maintenance-database URL or set TENANCY_MAINTENANCE_DATABASE_URL\n"))

        let withoutReason = try await workspace.run("sql", "--platform", countSQL, "--maintenance-database", maintenanceURL, withOwner: false)
        #expect(withoutReason.status == 2)
        #expect(withoutReason.stderr.hasPrefix(
            "error: missing option '--reason': '--platform' reads every tenant's rows, and the reason is recorded in the audit trail\n"))

        let bothTargets = try await workspace.run(
            "sql", "--platform", "--tenant", "acme", "--reason", "notes", countSQL, "--maintenance-database", maintenanceURL, withOwner: false)
        #expect(bothTargets.status == 2)
        #expect(bothTargets.stderr.hasPrefix("error: options '--tenant' and '--platform' exclude each other: "))

        let applicationAsMaintenance = try await workspace.run(
            "sql", "--platform", "--reason", "notes per tenant", countSQL, "--maintenance-database", workspace.application, withOwner: false)
        #expect(applicationAsMaintenance.status == 1)
        #expect(applicationAsMaintenance.stderr.hasPrefix(
            "error: platform-wide reads need a maintenance role of their own: \(application) is the application role, which must never have BYPASSRLS; "))
        #expect(!applicationAsMaintenance.stderr.contains(workspace.application))

        var wrongPassword = try PostgresConfiguration(url: maintenanceURL)
        wrongPassword.password = "not-the-password"
        let badURL = "postgres://\(wrongPassword.user):not-the-password@\(wrongPassword.host):\(wrongPassword.port)/\(wrongPassword.database)"
        let unreachable = try await workspace.run(
            "sql", "--platform", "--reason", "notes per tenant", countSQL, "--maintenance-database", badURL, withOwner: false)
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.hasPrefix("error: cannot connect as the maintenance role to "))
        #expect(unreachable.stderr.hasSuffix("check --maintenance-database or TENANCY_MAINTENANCE_DATABASE_URL\n"))
        #expect(!unreachable.stderr.contains("not-the-password"))
    }

    @Test func rolesSQLThenCreate() async throws {
        // The SQL changes grants in the database, so the test makes a database of its own.
        let (application, owner) = try CLIPostgresServer.urls()
        let database = "cli_roles_" + String(UUID().uuidString.lowercased().prefix(8))
        let admin = try PostgresDatabase(url: try CLIPostgresServer.adminURL(), maximumConnections: 1)
        try await admin.execute("CREATE DATABASE \(database)")
        do {
            let applicationURL = try CLIPostgresServer.url(application, database: database)
            let ownerURL = try CLIPostgresServer.url(owner, database: database)
            let options = ["--database", applicationURL, "--owner-database", ownerURL]
            let sql = try await TenancyExecutable.run(["roles-sql"] + options)
            #expect(sql.status == 0, "\(sql.stderr)")
            #expect(sql.stdout.contains("CREATE OR REPLACE FUNCTION \"tenancy\".bind_tenant("))
            let adminOfDatabase = try PostgresDatabase(url: try CLIPostgresServer.url(try CLIPostgresServer.adminURL(), database: database), maximumConnections: 1)
            try await adminOfDatabase.withConnection { connection in try connection.executeScript(sql.stdout) }
            await adminOfDatabase.close()

            let secret = [PostgresBindingSecret.environmentVariable: PostgresBindingSecret.generate().hexEncoded]
            let created = try await TenancyExecutable.run(
                ["create", "--id", "acme", "--name", "Acme", "--tier", "free", "--admin-email", "a@acme.example"] + options, environment: secret)
            #expect(created.status == 0, "\(created.stderr)")
            let verify = try await TenancyExecutable.run(["verify"] + options, environment: secret)
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.hasPrefix("Binding check: C check from the tenancy_binding library\n"))
        } catch {
            Issue.record(error)
        }
        try await admin.execute("DROP DATABASE \(database) WITH (FORCE)")
        await admin.close()
    }

    @Test func installMovesSchemaToTheCCheckAndGuardsTheSecret() async throws {
        let workspace = try PostgresWorkspace()
        defer { Task { try? await workspace.drop() } }
        let created = try await workspace.run("create", "--id", "acme", "--name", "Acme", "--tier", "free", "--admin-email", "a@acme.example")
        #expect(created.status == 0, "\(created.stderr)")
        let before = try await workspace.run("verify", "--only-schema", workspace.schema)
        #expect(before.stdout.hasPrefix("Binding check: PL/pgSQL check\n"))

        // The superuser adds the C functions later; install moves the schema to them.
        try await workspace.prepareBindingLibrary()
        let installed = try await workspace.run("install")
        #expect(installed.status == 0, "\(installed.stderr)")
        #expect(installed.stdout == "Installed schema '\(workspace.schema)': the registry, quota and rate-limit tables, "
            + "and row-level security with the C check from the tenancy_binding library.\n")
        let after = try await workspace.run("verify", "--only-schema", workspace.schema)
        #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
        #expect(after.stdout.hasPrefix("Binding check: C check from the tenancy_binding library\n"))

        // Another secret changes nothing without --rotate-secret.
        let other = PostgresBindingSecret.generate().hexEncoded
        let options = ["--database", workspace.application, "--schema", workspace.schema, "--owner-database", workspace.owner]
        let refused = try await TenancyExecutable.run(["install"] + options, environment: [PostgresBindingSecret.environmentVariable: other])
        #expect(refused.status == 4)
        #expect(refused.stderr.hasPrefix("error: the binding secret stored in schema '\(workspace.schema)' is not the one in TENANCY_BINDING_SECRET"))
        let stillOld = try await workspace.run("sql", "--tenant", "acme", "SELECT 1 AS one", withOwner: false)
        #expect(stillOld.status == 0, "\(stillOld.stderr)")

        let rotated = try await TenancyExecutable.run(["install", "--rotate-secret"] + options, environment: [PostgresBindingSecret.environmentVariable: other])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        let oldSecret = try await workspace.run("sql", "--tenant", "acme", "SELECT 1 AS one", withOwner: false)
        #expect(oldSecret.status == 1)
        #expect(oldSecret.stderr.contains("tenancy binding: the tag does not verify under the stored binding secret"))
        let newSecret = try await TenancyExecutable.run(
            ["sql", "--tenant", "acme", "SELECT 1 AS one", "--database", workspace.application, "--schema", workspace.schema],
            environment: [PostgresBindingSecret.environmentVariable: other])
        #expect(newSecret.stdout == "one\n1\n\n(1 row)\n", "\(newSecret.stderr)")

        let sqlite = try await TenancyExecutable.run(["install", "--database", "sqlite:/tmp/none.sqlite", "--owner-database", workspace.owner])
        #expect(sqlite.status == 2)
        #expect(sqlite.stderr.hasPrefix("error: 'install' needs a postgres:// URL"))
    }

    @Test func demoOnPostgresWithoutSuperuser() async throws {
        let (application, owner) = try CLIPostgresServer.urls()
        let result = try await TenancyExecutable.run(["demo", "--database", application, "--owner-database", owner])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("with the verified binding (PL/pgSQL check)"))
        #expect(result.stdout.contains(
            "    verify reports one failed probe: with the PL/pgSQL check, tenant SQL can read the library's tables (run the demo with --admin-database for the C check)\n"))
        let schema = try #require(result.field("Database")?.components(separatedBy: "schema ").last)
        let database = try PostgresDatabase(url: owner, maximumConnections: 1)
        try await database.execute("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE")
        await database.close()
    }

    @Test func demoOnPostgres() async throws {
        let (application, owner) = try CLIPostgresServer.urls()
        let result = try await TenancyExecutable.run(
            ["demo", "--database", application, "--owner-database", owner, "--admin-database", try CLIPostgresServer.adminURL()])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Cross-tenant reads:  2, a forged set_config among them, none returned a row of the other tenant\n"))
        #expect(result.stdout.contains("Purged:              'umbrella-labs', 5 items removed\n"))
        #expect(result.stdout.contains("with the verified binding (C check from the tenancy_binding library)"))
        #expect(!result.stdout.contains("verify reports one failed probe"))
        let schema = try #require(result.field("Database")?.components(separatedBy: "schema ").last)

        // The printed commands work once the passwords are filled in: the demo printed the
        // secret it generated, and verify searches only the demo's schema.
        let secretLine = try #require(result.stdout.split(separator: "\n").first { $0.contains("export TENANCY_BINDING_SECRET=") })
        let secret = String(try #require(secretLine.split(separator: "=").last))
        let ownerUser = try PostgresConfiguration(url: owner).user
        #expect(result.stdout.contains("--owner-database postgres://\(ownerUser):***@"))
        #expect(result.stdout.contains("--only-schema \(schema)\n"))
        let verify = try await TenancyExecutable.run(
            ["verify", "--database", application, "--schema", schema, "--owner-database", owner, "--only-schema", schema],
            environment: [PostgresBindingSecret.environmentVariable: secret])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

        let database = try PostgresDatabase(url: owner, maximumConnections: 1)
        try await database.execute("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE")
        await database.close()
    }
}
