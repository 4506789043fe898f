import Foundation
import Tenancy
import TenancyPostgres
import TenancySQLite

/// The isolation section of the demo: two tenants write to one protected table, each reads
/// back only its own rows, and a cross-tenant attempt is denied and audited.
extension DemoCommand {
    /// The counts of the isolation section, for the summary.
    struct IsolationOutcome: Encodable {
        /// The number of rows `SELECT * FROM debates` returned to each tenant, by tenant id.
        let rowsSeen: [String: Int]
        /// The cross-tenant statements the guards denied.
        let deniedStatements: Int
        /// The `isolation.statement-denied` audit records those denials wrote; nil on
        /// PostgreSQL, where the database rejects the statements and writes no audit record.
        let deniedAuditRecords: Int?
        /// The reads of another tenant's rows, forged bindings included, that returned no
        /// row; nil on SQLite, where the guards deny such reads instead.
        let emptyCrossTenantReads: Int?

        init(rowsSeen: [String: Int], deniedStatements: Int, deniedAuditRecords: Int?, emptyCrossTenantReads: Int? = nil) {
            self.rowsSeen = rowsSeen
            self.deniedStatements = deniedStatements
            self.deniedAuditRecords = deniedAuditRecords
            self.emptyCrossTenantReads = emptyCrossTenantReads
        }
    }

    /// The table the section protects, in the shape protected tables need: `tenant_id` leads
    /// the primary key.
    static let debatesSchema = """
        CREATE TABLE debates (
            tenant_id TEXT NOT NULL,
            id TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT 'untitled',
            PRIMARY KEY (tenant_id, id)
        )
        """

    /// The tenant tables of the demo's isolation section.
    enum DemoTenantData {
        case sqlite(SQLiteTenantDatabase)
        case postgres(PostgresTenantDatabase)
    }

    /// The debates each of the two tenants inserts; a nil title shows the column default.
    static let debatesToInsert: [[(id: String, title: String?)]] = [
        [("d1", "Carbon tax"), ("d2", "Four-day week"), ("d3", "Nuclear power")],
        [("d1", "Remote work"), ("d2", nil)],
    ]

    /// Creates and protects `debates`, or reuses it when an earlier demo run protected it, and
    /// registers the purger of protected rows with the manager unless opening the registry did.
    ///
    /// The demo runs this before it creates tenants, so a file whose `debates` object the
    /// isolation layer does not list (it belongs to someone else) is left unchanged.
    static func prepareIsolation(_ registry: OpenRegistry) async throws -> DemoTenantData {
        let database: SQLiteDatabase
        let protectedTables: SQLiteTenantDatabase?
        switch registry.backend {
        case .postgres(let backend):
            return .postgres(try await preparePostgresIsolation(backend))
        case .sqlite(let file, let existing):
            database = file
            protectedTables = existing
        }
        let manager = registry.manager
        let tenants = try await SQLiteTenantDatabase(database, audit: manager.audit)
        if protectedTables == nil {
            manager.register(SQLiteProtectedRowsPurger(tenants))
        }
        if try await !tenants.protectedTables().contains("debates") {
            let exists = try await database.read { connection in
                try !connection.query("SELECT 1 FROM sqlite_schema WHERE name = 'debates'").isEmpty
            }
            if exists {
                throw DemoFailure("the database already has an unprotected object named 'debates'; run the demo on a new database")
            }
            try await database.write { connection in
                try connection.executeScript(debatesSchema)
            }
            try await manager.withPlatformScope(reason: "tenancy demo: protect debates") {
                try await tenants.protect(table: "debates")
            }
        }
        return .sqlite(tenants)
    }

    /// Runs the section's inserts, reads and denied statements as two tenants.
    static func runIsolation(
        owner: Tenant, other: Tenant, tenants data: DemoTenantData, manager: TenantManager, narrator: Narrator
    ) async throws -> IsolationOutcome {
        let tenants: SQLiteTenantDatabase
        switch data {
        case .sqlite(let database):
            tenants = database
        case .postgres(let database):
            return try await runPostgresIsolation(owner: owner, other: other, tenants: database, manager: manager, narrator: narrator)
        }
        let enforcer = try IsolationCommands.enforcer(tenants)

        var lines = ["The table debates is protected (set up in the platform scope). Each tenant inserts through its own handle:"]
        for (tenant, debates) in zip([owner, other], debatesToInsert) {
            try await manager.withTenant(tenant.id) { _ in
                try await enforcer.requireTenantScope { scope in
                    for debate in debates {
                        try await scope.database.execute("INSERT INTO debates (id, title) VALUES (\(debate.id), \(debate.title))")
                    }
                }
            }
            lines.append("  \(tenant.id): \(debates.count) debates")
        }

        var rowsSeen: [String: Int] = [:]
        for tenant in [owner, other] {
            let rows = try await manager.withTenant(tenant.id) { _ in
                try await enforcer.requireTenantScope { scope in
                    try await scope.database.query("SELECT * FROM debates ORDER BY id")
                }
            }
            if try rows.contains(where: { try $0.text("tenant_id") != tenant.id.rawValue }) {
                throw DemoFailure("'\(tenant.id)' read a row of another tenant from debates")
            }
            rowsSeen[tenant.id.rawValue] = rows.count
            lines += ["", "As \(tenant.id): SELECT * FROM debates", IsolationCommands.render(rows)]
        }
        narrator.say(lines.joined(separator: "\n"))

        let denied = try await attemptCrossTenantStatements(as: owner, target: other, enforcer: enforcer, manager: manager, narrator: narrator)
        let records = try await manager.auditRecords(tenantID: owner.id, limit: 1_000).filter { $0.action == .isolationDenied }
        var table = TextTable("SEQ", "TENANT", "ACTION", "OUTCOME", "DETAIL")
        for record in records {
            table.append(
                record.sequence.map(String.init) ?? "-", record.tenantID?.rawValue ?? "-", record.action.rawValue,
                record.outcome.rawValue, record.detail ?? "")
        }
        narrator.say("\nEach denial wrote an audit record (manager.auditRecords(tenantID: \"\(owner.id)\")):\n\n" + table.render())

        return IsolationOutcome(rowsSeen: rowsSeen, deniedStatements: denied, deniedAuditRecords: records.count)
    }

    /// Runs statements as `tenant` that would reach `target`'s rows, prints each denial and
    /// returns how many were denied.
    private static func attemptCrossTenantStatements(
        as tenant: Tenant, target: Tenant, enforcer: TenantIsolationEnforcer<SQLiteTenantDatabase>, manager: TenantManager,
        narrator: Narrator
    ) async throws -> Int {
        // The target id is written into the text, not bound, so the printed statement shows
        // it. Tenant ids contain only a-z, 0-9 and '-', so the literal needs no escaping.
        let attempts = [
            SQLiteQuery(unsafeSQL: "SELECT * FROM \"debates$rows\""),
            SQLiteQuery(unsafeSQL: "UPDATE debates SET tenant_id = '\(target.id)'"),
        ]
        var lines = ["", "\(tenant.id) tries to reach the rows of \(target.id):"]
        for attempt in attempts {
            do {
                try await manager.withTenant(tenant.id) { _ in
                    try await enforcer.requireTenantScope { scope in
                        _ = try await scope.database.query(attempt)
                    }
                }
                throw DemoFailure("the cross-tenant statement ran: \(attempt.sql)")
            } catch let error as IsolationError where error.code == .denied {
                lines += ["  \(attempt.sql)", "    -> IsolationError(\(error.code)): \(error.message)"]
            }
        }
        narrator.say(lines.joined(separator: "\n"))
        return attempts.count
    }
}
