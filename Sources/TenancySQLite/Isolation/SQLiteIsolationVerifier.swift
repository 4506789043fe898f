internal import CSQLite
import Foundation
public import Tenancy

/// Checks a pooled SQLite database's isolation: the catalog of every protected table, objects
/// that reach base tables, unprotected tables with a `tenant_id` column, and live probes.
///
/// The probes protect a scratch table inside a write transaction, write rows as two probe
/// tenants, try every cross-tenant read and write, and roll the transaction back, so they leave
/// nothing behind.
public struct SQLiteIsolationVerifier: Sendable {
    let tenants: SQLiteTenantDatabase

    public init(_ tenants: SQLiteTenantDatabase) {
        self.tenants = tenants
    }

    /// Runs every check and returns the report; ``IsolationReport/passed`` is false on any
    /// finding or failed probe.
    public func verify() async throws -> IsolationReport {
        let protected = try await tenants.protectedTables()
        var (tables, findings) = try await catalog(protected)
        var probes = try await liveProbes()
        probes += try await tableProbes(protected)
        probes.append(foreignConnectionProbe(protected))
        findings.sort { $0.subject < $1.subject }
        tables.sort { $0.name < $1.name }
        return IsolationReport(tables: tables, findings: findings, probes: probes)
    }

    // MARK: - Catalog

    private func catalog(_ protected: [String]) async throws -> ([IsolationReport.Table], [IsolationReport.Finding]) {
        try await tenants.database.read { connection in
            var tables: [IsolationReport.Table] = []
            var findings: [IsolationReport.Finding] = []
            var libraryObjects: Set<String> = []

            for name in protected {
                let names = ProtectedTableNames(view: name)
                libraryObjects.formUnion(names.libraryObjects)
                let baseIsTable = try ProtectedTableSchema.objectType(names.base, on: connection) == "table"
                // The view and triggers must be exactly what the library creates for the base
                // table's current columns: an altered view (say `... OR 1`) is a finding.
                var expected: [String: String] = [:]
                if baseIsTable {
                    let columns = try ProtectedTableSchema.columns(of: names.base, on: connection)
                    for statement in try ProtectedTableSchema.objectStatements(names, columns: columns, on: connection)
                    where statement.hasPrefix("CREATE") {
                        let object = statement.hasPrefix("CREATE VIEW") ? name : names.triggers.first { statement.contains("TRIGGER \(ProtectedTableSchema.quoted($0)) ") } ?? ""
                        expected[object] = statement
                    }
                }
                var storedSQL: [String: String] = [:]
                for object in [name] + names.triggers {
                    storedSQL[object] = try connection.query("SELECT sql FROM sqlite_schema WHERE name = ?", [.text(object)]).first?.optionalText("sql")
                }
                let filtered = baseIsTable && storedSQL[name] != nil && storedSQL[name] == expected[name]
                let intactTriggers = baseIsTable ? names.triggers.filter { storedSQL[$0] != nil && storedSQL[$0] == expected[$0] }.count : 0
                var keyShape = baseIsTable
                if baseIsTable {
                    do {
                        try ProtectedTableSchema.checkKeyShape(names.base, on: connection)
                    } catch let error as IsolationError {
                        keyShape = false
                        findings.append(.init(subject: name, message: error.message))
                    }
                }
                tables.append(.init(name: name, filtered: filtered, writesConfined: intactTriggers == 3, keyLeadsWithTenantID: keyShape))
                if !filtered {
                    findings.append(.init(subject: name, message: "the filtering view is missing or differs from what the library creates, or the base table \(names.base) is missing; run protect(table:) again"))
                }
                if intactTriggers != 3 {
                    findings.append(.init(subject: name, message: "\(3 - intactTriggers) of its 3 INSTEAD OF triggers are missing or altered; run protect(table:) again"))
                }
            }

            let objects = try connection.query("SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
            for object in objects {
                let type = try object.text("type")
                let name = try object.text("name")
                let sql = try object.text("sql").lowercased()
                if (type == "view" || type == "trigger"), !libraryObjects.contains(name), sql.contains(ProtectedTableNames.baseSuffix) {
                    findings.append(.init(subject: name, message: "the \(type) \(name) reads or writes a protected base table directly; tenant statements through it are denied, so rewrite it over the view"))
                }
                if type == "table", !name.hasSuffix(ProtectedTableNames.baseSuffix), !SQLStatementCheck.names(libraryObject: name),
                    !name.lowercased().hasPrefix("sqlite_"),
                    try !connection.query("SELECT 1 FROM pragma_table_info(?) WHERE name = 'tenant_id'", [.text(name)]).isEmpty
                {
                    findings.append(.init(subject: name, message: "the table \(name) has a tenant_id column but is not protected; protect it with protect(table:)"))
                }
            }
            return (tables, findings)
        }
    }

    // MARK: - Probes

    private func liveProbes() async throws -> [IsolationReport.Probe] {
        let suffix = String(UUID().uuidString.lowercased().prefix(8))
        let table = "isolation_probe_" + suffix
        let tenantA = try TenantID(validating: "probe-a-" + suffix)
        let tenantB = try TenantID(validating: "probe-b-" + suffix)
        let limit = tenants.statementTimeLimit

        return try await tenants.database.writer.withConnection { connection in
            try connection.execute("BEGIN IMMEDIATE")
            defer { _ = try? connection.execute("ROLLBACK") }
            try connection.execute("CREATE TABLE \(table) (tenant_id TEXT NOT NULL, id TEXT NOT NULL, note TEXT NOT NULL DEFAULT 'original', PRIMARY KEY (tenant_id, id))")
            try ProtectedTableSchema.protect(table, on: connection)

            let asA = TenantStatementRunner(tenantID: tenantA, mode: .pooledTenant, timeLimit: limit)
            let asB = TenantStatementRunner(tenantID: tenantB, mode: .pooledTenant, timeLimit: limit)
            let unbound = TenantStatementRunner(tenantID: nil, mode: .pooledTenant, timeLimit: limit)
            _ = try asB.execute(SQLiteQuery(unsafeSQL: "INSERT INTO \(table) (id) VALUES ('b1')"), connection: connection)
            _ = try asA.execute(SQLiteQuery(unsafeSQL: "INSERT INTO \(table) (id) VALUES ('a1')"), connection: connection)
            let base = "\"\(table)$rows\""

            func bRows(_ connection: isolated SQLiteConnection) throws -> [String] {
                try connection.query("SELECT id || '=' || note AS row FROM \(base) WHERE tenant_id = ? ORDER BY id", [.text(tenantB.rawValue)])
                    .map { try $0.text("row") }
            }
            func denied(_ sql: String, as runner: TenantStatementRunner, _ connection: isolated SQLiteConnection) -> (Bool, String) {
                do {
                    _ = try runner.query(SQLiteQuery(unsafeSQL: sql), connection: connection)
                    return (false, "the statement ran")
                } catch let error as IsolationError where error.code == .denied {
                    return (true, "denied: \(error.message)")
                } catch {
                    return (false, "failed without a guard: \(error)")
                }
            }
            var probes: [IsolationReport.Probe] = []
            func probe(_ name: String, _ body: () throws -> (Bool, String)) {
                do {
                    let (passed, detail) = try body()
                    probes.append(.init(name: name, passed: passed, detail: detail))
                } catch {
                    probes.append(.init(name: name, passed: false, detail: "probe failed: \(error)"))
                }
            }
            let bOriginal = ["b1=original"]

            probe("tenant A reads only its rows") {
                let ids = try asA.query(SQLiteQuery(unsafeSQL: "SELECT id FROM \(table)"), connection: connection).map { try $0.text("id") }
                return (ids == ["a1"], "read \(ids)")
            }
            probe("tenant A cannot update B's rows") {
                _ = try asA.execute(SQLiteQuery(unsafeSQL: "UPDATE \(table) SET note = 'changed by A'"), connection: connection)
                let rows = try bRows(connection)
                return (rows == bOriginal, "B's rows after A's unfiltered UPDATE: \(rows)")
            }
            probe("tenant A cannot delete B's rows") {
                _ = try asA.execute(SQLiteQuery(unsafeSQL: "DELETE FROM \(table)"), connection: connection)
                let rows = try bRows(connection)
                return (rows == bOriginal, "B's rows after A's unfiltered DELETE: \(rows)")
            }
            probe("tenant A cannot replace B's rows") {
                _ = try asA.execute(SQLiteQuery(unsafeSQL: "INSERT OR REPLACE INTO \(table) (id, note) VALUES ('b1', 'replaced by A')"), connection: connection)
                let rows = try bRows(connection)
                return (rows == bOriginal, "B's rows after A's INSERT OR REPLACE with B's key: \(rows)")
            }
            probe("tenant A cannot re-home its rows to B") {
                denied("UPDATE \(table) SET tenant_id = '\(tenantB)'", as: asA, connection)
            }
            probe("tenant A cannot insert rows for B") {
                denied("INSERT INTO \(table) (tenant_id, id) VALUES ('\(tenantB)', 'b2')", as: asA, connection)
            }
            probe("tenant A cannot read the base table") {
                denied("SELECT * FROM \(base)", as: asA, connection)
            }
            probe("tenant A cannot reach the base table through a CTE named like the view") {
                denied("WITH \(table) AS (SELECT * FROM \(base)) SELECT * FROM \(table)", as: asA, connection)
            }
            probe("no tenant sees no rows") {
                let count = try unbound.query(SQLiteQuery(unsafeSQL: "SELECT count(*) AS n FROM \(table)"), connection: connection)[0].integer("n")
                return (count == 0, "rows visible with no tenant bound: \(count)")
            }
            probe("no tenant cannot write") {
                denied("INSERT INTO \(table) (id) VALUES ('x1')", as: unbound, connection)
            }
            return probes
        }
    }

    /// Reads each real protected table with no tenant and with an unknown one: both must see
    /// nothing.
    private func tableProbes(_ protected: [String]) async throws -> [IsolationReport.Probe] {
        let limit = tenants.statementTimeLimit
        let stranger = try TenantID(validating: "probe-unknown-" + String(UUID().uuidString.lowercased().prefix(8)))
        return try await tenants.database.reader().withConnection { connection in
            try protected.map { table in
                let sql = SQLiteQuery(unsafeSQL: "SELECT count(*) AS n FROM \(ProtectedTableSchema.quoted(table))")
                let none = try TenantStatementRunner(tenantID: nil, mode: .pooledTenant, timeLimit: limit).query(sql, connection: connection)[0].integer("n")
                let unknown = try TenantStatementRunner(tenantID: stranger, mode: .pooledTenant, timeLimit: limit).query(sql, connection: connection)[0].integer("n")
                return IsolationReport.Probe(
                    name: "\(table): no tenant and an unknown tenant see nothing", passed: none == 0 && unknown == 0,
                    detail: "rows with no tenant: \(none), with an unknown tenant: \(unknown)")
            }
        }
    }

    /// Opens the file with a plain SQLite connection, which has no `current_tenant()`, and
    /// checks that reading a protected view fails instead of returning rows.
    private func foreignConnectionProbe(_ protected: [String]) -> IsolationReport.Probe {
        let name = "a connection without the library's function fails closed"
        guard let table = protected.first else {
            return .init(name: name, passed: true, detail: "skipped: no protected table to read")
        }
        var handle: OpaquePointer?
        defer { sqlite3_close_v2(handle) }
        guard sqlite3_open_v2(tenants.database.path, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let handle else {
            return .init(name: name, passed: false, detail: "could not open the file with a plain connection")
        }
        var statement: OpaquePointer?
        defer { sqlite3_finalize(statement) }
        let sql = "SELECT count(*) FROM \(ProtectedTableSchema.quoted(table))"
        if sqlite3_prepare_v2(handle, sql, -1, &statement, nil) != SQLITE_OK {
            let message = String(cString: sqlite3_errmsg(handle))
            return .init(name: name, passed: message.contains("current_tenant"), detail: "plain connection got: \(message)")
        }
        let code = sqlite3_step(statement)
        if code == SQLITE_ROW {
            return .init(name: name, passed: false, detail: "a plain connection read \(sqlite3_column_int64(statement, 0)) rows of \(table)")
        }
        return .init(name: name, passed: true, detail: "plain connection got: \(String(cString: sqlite3_errmsg(handle)))")
    }
}
