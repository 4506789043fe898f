import Tenancy

/// How tenant statements run on a connection: checked by the lexer, then prepared and stepped
/// with the connection bound to the tenant in a tenant guard mode (see
/// ``SQLiteConnection/prepared(_:)`` for where the check runs).
struct TenantStatementRunner: Sendable {
    let tenantID: TenantID?
    let mode: ConnectionGuard.Mode
    /// The tenant id as NUL-terminated UTF-8, built once for every statement of the handle.
    let tenant: [CChar]?
    let timeLimitNanoseconds: UInt64

    init(tenantID: TenantID?, mode: ConnectionGuard.Mode, timeLimit: Duration) {
        self.tenantID = tenantID
        self.mode = mode
        self.tenant = tenantID.map { Array($0.rawValue.utf8CString) }
        let (seconds, attoseconds) = timeLimit.components
        self.timeLimitNanoseconds = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// The outcome of a query on a reader: rows, or a sign that the statement needs the writer.
    enum ReaderOutcome: Sendable {
        case rows([SQLiteRow])
        case writes
    }

    /// Runs a query on a reader connection, unless the statement writes or reads the writer's
    /// connection state.
    func queryOnReader(_ query: SQLiteQuery, connection: isolated SQLiteConnection) throws -> ReaderOutcome {
        try connection.withTenantBinding(tenant, mode: mode, timeLimitNanoseconds: timeLimitNanoseconds) {
            if try connection.needsWriter(query.sql) { return .writes }
            return .rows(try connection.query(query.sql, query.bindings))
        }
    }

    func query(_ query: SQLiteQuery, connection: isolated SQLiteConnection) throws -> [SQLiteRow] {
        try connection.withTenantBinding(tenant, mode: mode, timeLimitNanoseconds: timeLimitNanoseconds) {
            try connection.query(query.sql, query.bindings)
        }
    }

    func execute(_ query: SQLiteQuery, connection: isolated SQLiteConnection) throws -> Int {
        try connection.withTenantBinding(tenant, mode: mode, timeLimitNanoseconds: timeLimitNanoseconds) {
            try connection.execute(query.sql, query.bindings)
        }
    }
}
