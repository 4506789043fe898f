import Testing

/// `tenancy roles-sql` prints the superuser SQL without a server.
struct SetupCommandTests {
    static let application = "postgres://app:secret-one@localhost:5432/appdb"
    static let owner = "postgres://app_owner:secret-two@localhost:5432/appdb"
    static let maintenance = "postgres://app_maint:secret-three@localhost:5432/appdb"

    @Test func rolesSQLNamesRolesDatabaseAndSchema() async throws {
        let result = try await TenancyExecutable.run([
            "roles-sql", "--database", Self.application, "--owner-database", Self.owner,
            "--maintenance-database", Self.maintenance, "--schema", "billing",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        for line in [
            "GRANT CONNECT, CREATE ON DATABASE \"appdb\" TO \"app_owner\";",
            "GRANT CONNECT ON DATABASE \"appdb\" TO \"app\";",
            "REVOKE TEMPORARY ON DATABASE \"appdb\" FROM PUBLIC;",
            "REVOKE SELECT ON pg_catalog.pg_prepared_statements FROM PUBLIC;",
            "CREATE SCHEMA IF NOT EXISTS \"billing\" AUTHORIZATION \"app_owner\";",
            "ALTER ROLE \"app_maint\" BYPASSRLS;",
            "GRANT USAGE ON SCHEMA \"billing\" TO \"app\";",
            "GRANT USAGE ON SCHEMA \"billing\" TO \"app_maint\";",
            "    CREATE OR REPLACE FUNCTION \"billing\".bound_tenant() RETURNS pg_catalog.text",
        ] {
            #expect(result.stdout.contains(line + "\n"), "missing: \(line)")
        }
        #expect(result.stdout.components(separatedBy: "CREATE SCHEMA").count == 2)
        #expect(!result.stdout.contains("secret-"))

        let json = try await TenancyExecutable.run(["roles-sql", "--database", Self.application, "--owner-database", Self.owner, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let sql = try json.jsonObject()["sql"] as? String
        #expect(sql?.contains("CREATE SCHEMA IF NOT EXISTS \"tenancy\" AUTHORIZATION \"app_owner\";\n") == true)
    }

    @Test func rolesSQLRejectsSharedRoleAndSQLite() async throws {
        let shared = try await TenancyExecutable.run(["roles-sql", "--database", Self.application, "--owner-database", Self.application])
        #expect(shared.status == 2)
        #expect(shared.stderr.hasPrefix("error: the application, owner and maintenance roles must be three different roles"))

        let sqlite = try await TenancyExecutable.run(["roles-sql", "--database", "sqlite:/tmp/none.sqlite", "--owner-database", Self.owner])
        #expect(sqlite.status == 2)
        #expect(sqlite.stderr.hasPrefix("error: 'roles-sql' needs a postgres:// URL"))

        let missingOwner = try await TenancyExecutable.run(["roles-sql", "--database", Self.application], environment: ["TENANCY_OWNER_DATABASE_URL": ""])
        #expect(missingOwner.status == 2)
        #expect(missingOwner.stderr.hasPrefix("error: missing owner role: pass --owner-database URL"))
    }
}
