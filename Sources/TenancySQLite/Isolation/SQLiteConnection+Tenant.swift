import Tenancy

/// How tenant statements run on a connection: checked by the lexer, then prepared and stepped
/// with the connection bound to the tenant in a tenant guard mode.
struct TenantStatementRunner: Sendable {
    let tenantID: TenantID?
    let mode: ConnectionGuard.Mode
    let timeLimit: Duration

    var allowsFullSQL: Bool { mode == .siloTenant }

    /// The outcome of a query on a reader: rows, or a sign that the statement writes.
    enum ReaderOutcome: Sendable {
        case rows([SQLiteRow])
        case writes
    }

    @discardableResult
    func check(_ query: SQLiteQuery) throws -> Bool {
        try SQLStatementCheck.check(query.sql, allowsFullSQL: allowsFullSQL)
    }

    /// Runs a query on a reader connection, unless SQLite says the statement writes or it
    /// reads the writer's connection state.
    func queryOnReader(_ query: SQLiteQuery, connection: isolated SQLiteConnection) throws -> ReaderOutcome {
        if try check(query) { return .writes }
        return try connection.withTenantBinding(tenantID, mode: mode, timeLimit: timeLimit) {
            guard try connection.isReadOnly(query.sql) else { return .writes }
            return .rows(try connection.query(query.sql, query.bindings))
        }
    }

    func query(_ query: SQLiteQuery, connection: isolated SQLiteConnection) throws -> [SQLiteRow] {
        try check(query)
        return try connection.withTenantBinding(tenantID, mode: mode, timeLimit: timeLimit) {
            try connection.query(query.sql, query.bindings)
        }
    }

    func execute(_ query: SQLiteQuery, connection: isolated SQLiteConnection) throws -> Int {
        try check(query)
        return try connection.withTenantBinding(tenantID, mode: mode, timeLimit: timeLimit) {
            try connection.execute(query.sql, query.bindings)
        }
    }
}
