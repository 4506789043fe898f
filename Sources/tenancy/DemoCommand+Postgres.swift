import Foundation
import Tenancy
import TenancyPostgres

/// The PostgreSQL parts of the demo: its own schema, and the isolation section on a table
/// protected by row-level security.
extension DemoCommand {
    /// Returns the settings of a demo run on PostgreSQL: a new schema, the owner URL given on
    /// the command line, and the binding secret from the environment or a new one.
    ///
    /// The demo reads no database URL from the environment, so it can only reach the servers
    /// named on its command line.
    static func postgresSettings(_ invocation: Invocation) throws -> PostgresSettings {
        guard let ownerURL = invocation.arguments.value("owner-database") else {
            throw UsageError("the demo on PostgreSQL needs --owner-database URL: the owner role installs the demo's schema and protects its table")
        }
        var settings = PostgresSettings()
        settings.ownerURL = ownerURL
        settings.schema = "tenancy_demo_" + String(UUID().uuidString.lowercased().prefix(8))
        // With the variable set, 'tenancy sql' and 'tenancy verify' work on the demo's schema
        // afterwards; without it the secret exists only in this process.
        settings.secretHex = invocation.environment[PostgresBindingSecret.environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
            ?? PostgresBindingSecret.generate().hexEncoded
        return settings
    }

    /// Creates the demo's schema and the C binding functions in it as the superuser at
    /// `adminURL`, and lets the application role look into the schema.
    static func installBindingLibrary(adminURL: String, applicationURL: String, settings: PostgresSettings) async throws {
        guard let ownerURL = settings.ownerURL else { return }
        _ = try DatabaseLocation(parsing: adminURL, source: "--admin-database")
        let admin = try PostgresDatabase(url: adminURL, maximumConnections: 1)
        defer { Task { await admin.close() } }
        let owner = try PostgresConfiguration(url: ownerURL).user
        let application = try PostgresConfiguration(url: applicationURL).user
        try await PostgresRowLevelSecurity(schema: settings.schema).installBindingLibrary(admin: admin, owner: owner, applicationRole: application)
    }

    /// Fails unless `schema` does not exist yet, so the demo never writes into a schema it did
    /// not create.
    static func requireNewSchema(_ schema: String, url: String) async throws {
        let database = try PostgresDatabase(url: url, maximumConnections: 1)
        defer { Task { await database.close() } }
        let found = try await database.query("SELECT pg_catalog.to_regnamespace($1) IS NOT NULL AS found", [.text(schema)])[0].boolean("found")
        if found {
            throw DemoFailure("the schema '\(schema)' already exists; run the demo again for a new name")
        }
    }

    /// Creates the demo's `debates` table in its schema as the owner role and protects it.
    static func preparePostgresIsolation(_ backend: PostgresBackend) async throws -> PostgresTenantDatabase {
        let tenants = try backend.requireTenants()
        let owner = try backend.requireOwner(for: "demo")
        let schema = try PostgresIdentifier.quoted(backend.schema)
        try await owner.execute("""
            CREATE TABLE \(schema).debates (
                tenant_id text COLLATE "C" NOT NULL,
                id text NOT NULL,
                title text NOT NULL DEFAULT 'untitled',
                PRIMARY KEY (tenant_id, id)
            )
            """)
        try await tenants.rowLevelSecurity.protect(
            table: "debates", schema: backend.schema, owner: owner, applicationRole: backend.database.configuration.user)
        return tenants
    }

    /// Runs the isolation section on PostgreSQL: both tenants insert and read, then `owner`
    /// tries to read and change `other`'s rows.
    static func runPostgresIsolation(
        owner: Tenant, other: Tenant, tenants: PostgresTenantDatabase, manager: TenantManager, narrator: Narrator
    ) async throws -> IsolationOutcome {
        let enforcer = try TenantIsolationEnforcer(IsolationCommands.isolation, database: tenants)
        let table = try PostgresIdentifier.quoted(tenants.rowLevelSecurity.schema) + ".debates"

        var lines = [
            "The table debates has row-level security forced, with the verified binding (\(tenants.bindingCheck.displayName)). Each tenant inserts through its own handle:"
        ]
        for (tenant, debates) in zip([owner, other], debatesToInsert) {
            try await manager.withTenant(tenant.id) { _ in
                try await enforcer.requireTenantScope { scope in
                    for debate in debates {
                        if let title = debate.title {
                            try await scope.database.execute(
                                "INSERT INTO \(unsafeSQL: table) (tenant_id, id, title) VALUES (\(tenant.id), \(debate.id), \(title))")
                        } else {
                            try await scope.database.execute("INSERT INTO \(unsafeSQL: table) (tenant_id, id) VALUES (\(tenant.id), \(debate.id))")
                        }
                    }
                }
            }
            lines.append("  \(tenant.id): \(debates.count) debates")
        }

        var rowsSeen: [String: Int] = [:]
        for tenant in [owner, other] {
            let rows = try await manager.withTenant(tenant.id) { _ in
                try await enforcer.requireTenantScope { scope in
                    try await scope.database.query("SELECT * FROM \(unsafeSQL: table) ORDER BY id")
                }
            }
            if try rows.contains(where: { try $0.text("tenant_id") != tenant.id.rawValue }) {
                throw DemoFailure("'\(tenant.id)' read a row of another tenant from debates")
            }
            rowsSeen[tenant.id.rawValue] = rows.count
            lines += ["", "As \(tenant.id): SELECT * FROM debates", IsolationCommands.render(rows)]
        }
        narrator.say(lines.joined(separator: "\n"))

        // Tenant ids contain only a-z, 0-9 and '-', so the literals need no escaping.
        let target = other.id.rawValue
        let reads = [
            "SELECT * FROM \(table) WHERE tenant_id = '\(target)'",
            "SELECT d.* FROM \(table) d, (SELECT pg_catalog.set_config('tenancy.tenant_id', '\(target)', true)) AS forged",
        ]
        let writes = [
            "UPDATE \(table) SET tenant_id = '\(target)'",
            "INSERT INTO \(table) (tenant_id, id) VALUES ('\(target)', 'd9')",
        ]
        var attemptLines = ["", "\(owner.id) tries to reach the rows of \(target):"]
        for sql in reads {
            let rows = try await manager.withTenant(owner.id) { _ in
                try await enforcer.requireTenantScope { scope in
                    try await scope.database.query(PostgresQuery(unsafeSQL: sql))
                }
            }
            if try rows.contains(where: { try $0.text("tenant_id") == target }) {
                throw DemoFailure("'\(owner.id)' read a row of '\(target)': \(sql)")
            }
            attemptLines += ["  \(sql)", "    -> 0 rows of \(target), \(IsolationCommands.count(rows.count, "row")) in all"]
        }
        for sql in writes {
            do {
                _ = try await manager.withTenant(owner.id) { _ in
                    try await enforcer.requireTenantScope { scope in
                        try await scope.database.execute(PostgresQuery(unsafeSQL: sql))
                    }
                }
                throw DemoFailure("the cross-tenant statement ran: \(sql)")
            } catch let error as PostgresError where error.code == .insufficientPrivilege {
                attemptLines += ["  \(sql)", "    -> rejected with SQLSTATE \(error.code!): \(error.message)"]
            }
        }
        narrator.say(attemptLines.joined(separator: "\n"))
        return IsolationOutcome(rowsSeen: rowsSeen, deniedStatements: writes.count, deniedAuditRecords: nil, emptyCrossTenantReads: reads.count)
    }
}
