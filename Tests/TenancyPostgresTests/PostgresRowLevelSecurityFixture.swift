import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// A row-level security installation in a schema of its own: two protected tables, `items`
/// and `notes`, with rows of tenants A and B, and an application pool of its own.
struct RowLevelSecurityFixture {
    let rls: PostgresRowLevelSecurity
    let secret: PostgresBindingSecret
    let pool: PostgresDatabase
    let tenants: PostgresTenantDatabase
    let tenantA: TenantID = "alpha-corp"
    let tenantB: TenantID = "beta-corp"

    var items: String { "\(rls.quotedSchema).items" }
    var notes: String { "\(rls.quotedSchema).notes" }

    static let bindSQL = PostgresTenantBinding.sql

    /// The checks of the verified binding, for tests that run once with each.
    static let verifiedChecks: [PostgresBindingCheck] = [.plpgsql, .library]

    /// Installs a fresh schema, runs `body`, and drops the schema and the pool afterwards.
    ///
    /// `check` picks the verified binding's check: `.plpgsql`, or `.library`, for which a
    /// superuser first creates the C functions of the `tenancy_binding` library in the schema.
    static func with<Result>(
        trusted: Bool = false, check: PostgresBindingCheck = .plpgsql, poolSize: Int = 2, preparedStatementCacheSize: Int? = nil,
        _ body: (RowLevelSecurityFixture) async throws -> Result
    ) async throws -> Result {
        let rls = try PostgresRowLevelSecurity(schema: PostgresTestServer.uniqueSchemaName("test_rls"))
        let secret = PostgresBindingSecret.generate()
        let binding: PostgresTenantBinding = trusted ? .trusted : .verified(secret)
        let owner = try await PostgresTestServer.owner()
        var configuration = try PostgresConfiguration(url: try PostgresTestServer.urls().application)
        if let preparedStatementCacheSize {
            configuration.preparedStatementCacheSize = preparedStatementCacheSize
        }
        let pool = try PostgresDatabase(configuration, maximumConnections: poolSize)
        do {
            if check == .library {
                try await installLibrary(rls, owner: owner)
            }
            try await install(rls, binding: binding, owner: owner, applicationRole: pool.configuration.user)
            let tenants = try await PostgresTenantDatabase(pool, binding: binding, rowLevelSecurity: rls)
            let expected: PostgresBindingCheck = trusted ? .trusted : check
            guard tenants.bindingCheck == expected else {
                throw PostgresTestServer.SetupError("the fixture expected the \(expected) check, the database runs the \(tenants.bindingCheck) check")
            }
            let fixture = RowLevelSecurityFixture(rls: rls, secret: secret, pool: pool, tenants: tenants)
            try await fixture.seed()
            let result = try await body(fixture)
            await pool.close()
            try await PostgresTestServer.dropSchema(rls.schema)
            return result
        } catch {
            await pool.close()
            try? await PostgresTestServer.dropSchema(rls.schema)
            throw error
        }
    }

    /// Creates, as the superuser, the schema for the owner role and the C binding functions in it.
    static func installLibrary(_ rls: PostgresRowLevelSecurity, owner: PostgresDatabase) async throws {
        try await rls.installBindingLibrary(admin: try await PostgresTestServer.admin(), owner: owner.configuration.user)
    }

    static func install(_ rls: PostgresRowLevelSecurity, binding: PostgresTenantBinding, owner: PostgresDatabase, applicationRole: String) async throws {
        try await rls.install(owner: owner, applicationRole: applicationRole, binding: binding)
        try await owner.execute("""
            CREATE TABLE \(rls.quotedSchema).items (tenant_id text COLLATE "C" NOT NULL, id text NOT NULL, note text NOT NULL DEFAULT 'original', PRIMARY KEY (tenant_id, id))
            """)
        try await owner.execute("""
            CREATE TABLE \(rls.quotedSchema).notes (tenant_id text COLLATE "C" NOT NULL, id integer NOT NULL, body text NOT NULL, PRIMARY KEY (tenant_id, id))
            """)
        try await rls.protect(table: "items", schema: rls.schema, owner: owner, applicationRole: applicationRole)
        try await rls.protect(table: "notes", schema: rls.schema, owner: owner, applicationRole: applicationRole)
    }

    /// Inserts items a1, a2 and note 1 for A, and item b1 and notes 1, 2 for B.
    func seed() async throws {
        let asA = tenants.handle(forID: tenantA)
        let asB = tenants.handle(forID: tenantB)
        try await asA.execute("INSERT INTO \(unsafeSQL: items) (tenant_id, id) VALUES (\(tenantA), 'a1'), (\(tenantA), 'a2')")
        try await asA.execute("INSERT INTO \(unsafeSQL: notes) (tenant_id, id, body) VALUES (\(tenantA), 1, 'a note')")
        try await asB.execute("INSERT INTO \(unsafeSQL: items) (tenant_id, id) VALUES (\(tenantB), 'b1')")
        try await asB.execute("INSERT INTO \(unsafeSQL: notes) (tenant_id, id, body) VALUES (\(tenantB), 1, 'b note'), (\(tenantB), 2, 'b note 2')")
    }

    /// Returns the item ids that a handle bound to `tenant` reads.
    func itemIDs(as tenant: TenantID) async throws -> [String] {
        try await tenants.handle(forID: tenant).query("SELECT id FROM \(unsafeSQL: items) ORDER BY id").map { try $0.text("id") }
    }

    /// Returns the number of rows a handle bound to `tenant` reads in `table`, to check what
    /// another tenant's statements left behind.
    func rowCount(of tenant: TenantID, in table: String) async throws -> Int64 {
        try await tenants.handle(forID: tenant).query("SELECT count(*) AS n FROM \(unsafeSQL: table)")[0].integer("n")
    }

    /// Returns the binding statement of the fixture's check for `tenant` with the tag of `minute`:
    /// the settings for the PL/pgSQL check, `bind_tenant` for the C check.
    func bindStatement(_ tenant: TenantID, minute: Int64) -> PostgresStatement {
        bindStatement(tenant, tag: secret.tag(tenant: tenant.rawValue, minute: minute))
    }

    /// Returns the binding statement of the fixture's check for `tenant` with any `tag`.
    func bindStatement(_ tenant: TenantID, tag: String) -> PostgresStatement {
        var arguments: [PostgresValue] = [.text(tenant.rawValue), .text(tag)]
        if let endsAfter = tenants.endsAfterMilliseconds {
            arguments.append(.integer(endsAfter))
        }
        return PostgresStatement(tenants.bindSQL, arguments)
    }

    /// `SELECT <schema>.bind_tenant($1, $2)`, the C check's binding call without a time limit, for tenant SQL
    /// that calls it itself.
    var bindTenantSQL: String { "SELECT \(rls.quotedSchema).bind_tenant($1, $2)" }

    /// Returns the server's current minute since 1970.
    func serverMinute() async throws -> Int64 {
        try await pool.query("SELECT floor(date_part('epoch', now()) / 60)::int8 AS minute")[0].integer("minute")
    }
}
