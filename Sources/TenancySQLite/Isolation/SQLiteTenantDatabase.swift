import Foundation
public import Tenancy

/// Pooled tenant tables in one SQLite file, isolated by filtering views, `INSTEAD OF`
/// triggers, a lexer check and an authorizer.
///
/// Protecting a table `debates` moves its rows to `debates$rows` and puts a view `debates` in
/// its place that shows only the rows whose `tenant_id` is `current_tenant()`, a function the
/// library registers on each of its connections. Triggers stamp `tenant_id` on insert, reject
/// a foreign or changed `tenant_id`, and confine updates and deletes to the bound tenant. Any
/// other client of the file fails closed: it has no `current_tenant()` function, so reading a
/// protected view is an error.
public final class SQLiteTenantDatabase: TenantDatabaseProvider {
    /// The file and its connections.
    public let database: SQLiteDatabase
    /// How long one tenant statement may run before it is interrupted.
    public let statementTimeLimit: Duration
    /// Where denied statements are recorded, if anywhere.
    public let audit: (any AuditStore)?

    public var placement: IsolationPlacement { .pool }
    public var enforcesRowLevelSecurity: Bool { true }

    /// Opens the isolation layer over `database`, creating its bookkeeping table.
    ///
    /// - Parameters:
    ///   - statementTimeLimit: the time limit of one tenant statement; 5 seconds by default.
    ///   - audit: where to record statements the guards deny.
    public init(_ database: SQLiteDatabase, statementTimeLimit: Duration = .seconds(5), audit: (any AuditStore)? = nil) async throws {
        guard statementTimeLimit > .zero else {
            throw ValidationError(.invalidArgument, field: "statementTimeLimit", message: "invalid statement time limit: expected more than zero")
        }
        self.database = database
        self.statementTimeLimit = statementTimeLimit
        self.audit = audit
        try await database.migrate(component: "isolation", Self.migrations)
    }

    static let migrations = [
        SQLiteMigration(version: 1, name: "create protected table list", sql: """
            CREATE TABLE tenancy_protected_tables (
                name TEXT PRIMARY KEY NOT NULL,
                protected_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            """)
    ]

    /// Returns a handle bound to `tenant` for the pooled tables.
    public func handle(for tenant: Tenant) async throws -> SQLiteTenantHandle {
        SQLiteTenantHandle(tenantID: tenant.id, database: database, mode: .pooledTenant, timeLimit: statementTimeLimit, audit: audit)
    }

    /// Returns the names of the protected tables, sorted.
    public func protectedTables() async throws -> [String] {
        try await database.read { connection in
            try connection.query("SELECT name FROM tenancy_protected_tables ORDER BY name").map { try $0.text("name") }
        }
    }

    // MARK: - Protecting tables (platform scope)

    /// Moves a table behind the isolation layer; protecting a protected table again rebuilds
    /// its view and triggers and changes nothing else.
    ///
    /// The table must have a `tenant_id` column that leads its primary key and every unique
    /// index, so that `INSERT OR REPLACE` and conflicts can never touch or reveal another
    /// tenant's row. Run it in `manager.withPlatformScope(reason:)`.
    ///
    /// - Throws: ``IsolationError`` with code ``IsolationError/Code/invalidTable`` naming the
    ///   table and index when the key shape is wrong, ``IsolationError/Code/denied`` outside the
    ///   platform scope, ``ValidationError`` for a name that is not a plain SQL identifier.
    public func protect(table: String) async throws {
        try Self.requirePlatformScope("protect(table:)")
        let table = try Self.validatedTableName(table)
        try await database.write { connection in
            try ProtectedTableSchema.protect(table, on: connection)
        }
    }

    /// Moves a protected table back to a plain table with all its rows.
    public func unprotect(table: String) async throws {
        try Self.requirePlatformScope("unprotect(table:)")
        let table = try Self.validatedTableName(table)
        try await database.write { connection in
            try ProtectedTableSchema.unprotect(table, on: connection)
        }
    }

    /// Changes a protected table's schema: in one transaction the table is unprotected, `body`
    /// runs with the table under its own name (for example `ALTER TABLE debates ADD COLUMN`),
    /// and the table is protected again with triggers for its new columns.
    public func alterProtectedTable(_ table: String, _ body: @escaping @Sendable (isolated SQLiteConnection) throws -> Void) async throws {
        try Self.requirePlatformScope("alterProtectedTable(_:_:)")
        let table = try Self.validatedTableName(table)
        try await database.write { connection in
            try ProtectedTableSchema.unprotect(table, on: connection)
            try body(connection)
            try ProtectedTableSchema.protect(table, on: connection)
        }
    }

    static func requirePlatformScope(_ operation: String) throws {
        guard TenantContext.isPlatformScope else {
            throw IsolationError(
                .denied, "\(operation) changes the schema of tenant tables: run it inside manager.withPlatformScope(reason:)")
        }
    }

    /// Checks that a table name is a plain SQL identifier the library can quote and extend.
    static func validatedTableName(_ name: String) throws -> String {
        let bytes = Array(name.utf8)
        let valid = (1...64).contains(bytes.count)
            && bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
            && !(bytes[0] >= 0x30 && bytes[0] <= 0x39)
            && !name.lowercased().hasPrefix("tenancy_") && !name.lowercased().hasPrefix("sqlite_")
        guard valid else {
            throw ValidationError(
                .invalidArgument, field: "table",
                message: "invalid table name \(TenantID.quotedForMessage(name)): expected 1 to 64 characters of letters, digits and '_', not starting with a digit, 'tenancy_' or 'sqlite_'")
        }
        return name
    }
}

/// The statements that protect and unprotect a table, run on the writer in a transaction.
enum ProtectedTableSchema {
    struct Column {
        let name: String
        let defaultSQL: String?
        let generated: Bool
        let primaryKeyPosition: Int
    }

    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func protect(_ table: String, on connection: isolated SQLiteConnection) throws {
        let names = ProtectedTableNames(view: table)
        let recorded = try !connection.query("SELECT 1 FROM tenancy_protected_tables WHERE name = ?", [.text(table)]).isEmpty
        let baseExists = try objectType(names.base, on: connection) == "table"

        if !(recorded && baseExists) {
            guard try objectType(table, on: connection) == "table" else {
                throw IsolationError(.invalidTable, "cannot protect '\(table)': no table with that name exists")
            }
            try checkKeyShape(table, on: connection)
            try connection.execute("ALTER TABLE \(quoted(table)) RENAME TO \(quoted(names.base))")
        } else {
            try checkKeyShape(names.base, on: connection)
        }

        let columns = try self.columns(of: names.base, on: connection)
        for statement in try objectStatements(names, columns: columns, on: connection) {
            try connection.execute(statement)
        }
        try connection.execute(
            "INSERT OR IGNORE INTO tenancy_protected_tables (name, protected_at) VALUES (?, ?)",
            [.text(table), .integer(Date().millisecondsSince1970)])
    }

    static func unprotect(_ table: String, on connection: isolated SQLiteConnection) throws {
        let names = ProtectedTableNames(view: table)
        guard try objectType(names.base, on: connection) == "table" else {
            throw IsolationError(.invalidTable, "cannot unprotect '\(table)': it is not a protected table")
        }
        for trigger in names.triggers {
            try connection.execute("DROP TRIGGER IF EXISTS \(quoted(trigger))")
        }
        try connection.execute("DROP VIEW IF EXISTS \(quoted(table))")
        try connection.execute("ALTER TABLE \(quoted(names.base)) RENAME TO \(quoted(table))")
        try connection.execute("DELETE FROM tenancy_protected_tables WHERE name = ?", [.text(table)])
    }

    /// The view and trigger statements of a protected table, dropping the previous ones first.
    static func objectStatements(_ names: ProtectedTableNames, columns: [Column], on connection: isolated SQLiteConnection) throws -> [String] {
        let base = quoted(names.base)
        let view = quoted(names.view)
        let selectable = columns.map { quoted($0.name) }.joined(separator: ", ")
        let writable = columns.filter { !$0.generated && $0.name != "tenant_id" }
        let keys = columns.filter { $0.primaryKeyPosition > 0 && $0.name != "tenant_id" }.sorted { $0.primaryKeyPosition < $1.primaryKeyPosition }
        let keyMatch = (["\"tenant_id\" = current_tenant()"] + keys.map { "\(quoted($0.name)) IS OLD.\(quoted($0.name))" })
            .joined(separator: " AND ")
        let noTenant = "SELECT RAISE(ABORT, 'tenancy: no tenant is bound to the connection') WHERE current_tenant() IS NULL;"

        let insertColumns = (["\"tenant_id\""] + writable.map { quoted($0.name) }).joined(separator: ", ")
        let insertValues = (["current_tenant()"] + writable.map { column in
            column.defaultSQL.map { "COALESCE(NEW.\(quoted(column.name)), (\($0)))" } ?? "NEW.\(quoted(column.name))"
        }).joined(separator: ", ")
        let assignments = writable.map { "\(quoted($0.name)) = NEW.\(quoted($0.name))" }.joined(separator: ", ")

        var statements = names.triggers.map { "DROP TRIGGER IF EXISTS \(quoted($0))" }
        statements.append("DROP VIEW IF EXISTS \(view)")
        statements.append("CREATE VIEW \(view) AS SELECT \(selectable) FROM \(base) WHERE \"tenant_id\" = current_tenant()")
        statements.append("""
            CREATE TRIGGER \(quoted(names.insertTrigger)) INSTEAD OF INSERT ON \(view) BEGIN
                \(noTenant)
                SELECT RAISE(ABORT, 'tenancy: tenant_id must be the bound tenant') WHERE NEW."tenant_id" IS NOT NULL AND NEW."tenant_id" IS NOT current_tenant();
                INSERT INTO \(base) (\(insertColumns)) VALUES (\(insertValues));
            END
            """)
        let update = assignments.isEmpty ? "" : "UPDATE \(base) SET \(assignments) WHERE \(keyMatch);"
        statements.append("""
            CREATE TRIGGER \(quoted(names.updateTrigger)) INSTEAD OF UPDATE ON \(view) BEGIN
                \(noTenant)
                SELECT RAISE(ABORT, 'tenancy: tenant_id cannot be changed') WHERE NEW."tenant_id" IS NOT OLD."tenant_id";
                \(update)
            END
            """)
        statements.append("""
            CREATE TRIGGER \(quoted(names.deleteTrigger)) INSTEAD OF DELETE ON \(view) BEGIN
                \(noTenant)
                DELETE FROM \(base) WHERE \(keyMatch);
            END
            """)
        return statements
    }

    static func objectType(_ name: String, on connection: isolated SQLiteConnection) throws -> String? {
        try connection.query("SELECT type FROM sqlite_schema WHERE name = ?", [.text(name)]).first?.text("type")
    }

    static func columns(of table: String, on connection: isolated SQLiteConnection) throws -> [Column] {
        try connection.query("SELECT name, dflt_value, pk, hidden FROM pragma_table_xinfo(?)", [.text(table)]).compactMap { row in
            let hidden = try row.integer("hidden")
            if hidden == 1 { return nil }
            return Column(
                name: try row.text("name"), defaultSQL: try row.optionalText("dflt_value"), generated: hidden >= 2,
                primaryKeyPosition: Int(try row.integer("pk")))
        }
    }

    /// Checks that `tenant_id` exists and leads the primary key and every unique index.
    static func checkKeyShape(_ table: String, on connection: isolated SQLiteConnection) throws {
        let displayName = table.hasSuffix(ProtectedTableNames.baseSuffix) ? String(table.dropLast(ProtectedTableNames.baseSuffix.count)) : table
        let columns = try self.columns(of: table, on: connection)
        guard columns.contains(where: { $0.name == "tenant_id" }) else {
            throw IsolationError(.invalidTable, "cannot protect '\(displayName)': it has no tenant_id column")
        }
        let key = columns.filter { $0.primaryKeyPosition > 0 }.sorted { $0.primaryKeyPosition < $1.primaryKeyPosition }
        guard let first = key.first else {
            throw IsolationError(.invalidTable, "cannot protect '\(displayName)': it has no primary key; declare PRIMARY KEY (tenant_id, ...)")
        }
        guard first.name == "tenant_id" else {
            throw IsolationError(
                .invalidTable,
                "cannot protect '\(displayName)': its primary key starts with \(first.name), not tenant_id; declare PRIMARY KEY (tenant_id, \(key.map(\.name).joined(separator: ", ")))")
        }
        for index in try connection.query("SELECT name FROM pragma_index_list(?) WHERE \"unique\" = 1 AND origin <> 'pk'", [.text(table)]) {
            let name = try index.text("name")
            let leading = try connection.query("SELECT name FROM pragma_index_info(?) WHERE seqno = 0", [.text(name)]).first
            guard try leading?.optionalText("name") == "tenant_id" else {
                throw IsolationError(
                    .invalidTable, "cannot protect '\(displayName)': its unique index \(name) does not start with tenant_id; make tenant_id its first column")
            }
        }
    }
}
