internal import CSQLite
import Dispatch
import Foundation
import Tenancy

/// One SQLite connection, owned by an actor that runs on its own serial Dispatch queue.
///
/// Every call into SQLite happens on that queue, so blocking work stays off Swift's cooperative
/// pool and the C handle has exactly one owner. Connections are configured for WAL, a busy
/// timeout, foreign keys, extended result codes, `trusted_schema=OFF` and SQLite's defensive
/// mode. Statements take bound parameters only and are cached per connection.
public actor SQLiteConnection {
    /// The kind of transaction ``transaction(_:_:)`` opens.
    public enum TransactionKind: Sendable {
        /// `BEGIN DEFERRED`: takes locks as statements need them.
        case deferred
        /// `BEGIN IMMEDIATE`: takes the write lock first, so a read that later writes never
        /// fails busy without waiting.
        case immediate
    }

    nonisolated let executor: DispatchQueueExecutor
    nonisolated public var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// The `sqlite3*` handle and its statement cache; only touched on this actor's queue.
    let box: HandleBox
    var handle: OpaquePointer { box.handle }
    /// The isolation state the C callbacks read; see ``ConnectionGuard``.
    let guardState = ConnectionGuard()

    /// The default limit on the length of a string or blob, 64 MiB.
    public static let defaultLengthLimit: Int32 = 64 << 20
    /// The database file path.
    public nonisolated let path: String

    /// Opens (creating if needed) the database at `path` and configures the connection.
    ///
    /// - Parameters:
    ///   - readOnly: make the connection refuse writes (`PRAGMA query_only`), for readers.
    ///   - busyTimeout: how long a statement waits for another connection's lock.
    ///   - synchronous: the `PRAGMA synchronous` level; `FULL` makes every commit durable
    ///     across power loss, `NORMAL` (with WAL) only across process crashes.
    ///   - lengthLimit: the longest string or blob a statement may build, in bytes.
    public init(
        path: String, readOnly: Bool = false, busyTimeout: Duration = .seconds(5), synchronous: String = "FULL",
        lengthLimit: Int32 = SQLiteConnection.defaultLengthLimit
    ) throws {
        guard ["FULL", "NORMAL", "EXTRA"].contains(synchronous) else {
            throw SQLiteError(code: .misuse, message: "invalid synchronous level '\(synchronous)': expected FULL, NORMAL or EXTRA", operation: "open")
        }
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard code == SQLITE_OK, let opened else {
            let error = SQLiteError(connection: opened, code: code, operation: "open")
            sqlite3_close_v2(opened)
            throw error
        }
        self.box = HandleBox(handle: opened)
        self.path = path
        self.executor = DispatchQueueExecutor(label: "tenancy.sqlite.\(readOnly ? "reader" : "writer")")

        sqlite3_extended_result_codes(opened, 1)
        let milliseconds = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(opened, Int32(clamping: milliseconds))
        _ = tenancy_sqlite_db_config_bool(opened, SQLITE_DBCONFIG_DEFENSIVE, 1)
        _ = tenancy_sqlite_db_config_bool(opened, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0)
        do {
            try Self.run(opened, "PRAGMA journal_mode = WAL")
            try Self.run(opened, "PRAGMA foreign_keys = ON")
            try Self.run(opened, "PRAGMA trusted_schema = OFF")
            try Self.run(opened, "PRAGMA synchronous = \(synchronous)")
            if readOnly { try Self.run(opened, "PRAGMA query_only = ON") }
            try guardState.install(on: opened, lengthLimit: lengthLimit)
        } catch {
            sqlite3_close_v2(opened)
            throw error
        }
    }

    /// A prepared statement and what the lexer check found about it.
    struct CachedStatement {
        let pointer: OpaquePointer
        /// Whether the statement reads the writer's connection state (`last_insert_rowid()`).
        let readsWriterState: Bool
    }

    /// A cache key: the guard mode a statement was prepared under, and its SQL.
    struct StatementKey: Hashable {
        let mode: ConnectionGuard.Mode
        let sql: String
    }

    /// Owns the C handle so it is closed exactly once, when the actor is gone.
    ///
    /// `@unchecked Sendable` is sound because the actor is the only owner: every access happens
    /// on the actor's queue, and `deinit` runs after the last reference (the actor's) is dropped.
    final class HandleBox: @unchecked Sendable {
        let handle: OpaquePointer
        /// Prepared statements by mode and SQL: the authorizer runs when a statement is
        /// prepared, so a statement prepared for one mode is never reused in another.
        var statements: [StatementKey: CachedStatement] = [:]

        init(handle: OpaquePointer) {
            self.handle = handle
        }

        deinit {
            for statement in statements.values {
                sqlite3_finalize(statement.pointer)
            }
            sqlite3_close_v2(handle)
        }
    }

    /// Runs a fixed statement (no parameters, no rows) during set-up.
    private static func run(_ handle: OpaquePointer, _ sql: String) throws {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw SQLiteError(connection: handle, code: code, operation: "configure", sql: sql) }
    }

    // MARK: - Statements

    /// Runs one statement with bound arguments and returns the number of rows it changed.
    @discardableResult
    public func execute(_ sql: String, _ arguments: [SQLiteValue] = []) throws -> Int {
        let before = sqlite3_total_changes64(handle)
        try withStatement(sql, arguments) { statement in
            while try step(statement, sql) {}
        }
        return Int(sqlite3_total_changes64(handle) - before)
    }

    /// Runs one query with bound arguments and returns every row.
    public func query(_ sql: String, _ arguments: [SQLiteValue] = []) throws -> [SQLiteRow] {
        try withStatement(sql, arguments) { statement in
            let count = sqlite3_column_count(statement)
            let columns = SQLiteColumns(names: (0..<count).map { String(cString: sqlite3_column_name(statement, $0)) })
            var rows: [SQLiteRow] = []
            while try step(statement, sql) {
                rows.append(SQLiteRow(columns: columns, values: (0..<count).map { SQLiteValue.read(from: statement, column: $0) }))
            }
            return rows
        }
    }

    /// Runs a script of statements without parameters, such as a migration.
    public func executeScript(_ sql: String) throws {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw SQLiteError(connection: handle, code: code, operation: "execute script", sql: sql) }
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    @discardableResult
    public func transaction<Result: Sendable>(
        _ kind: TransactionKind = .immediate,
        _ body: @Sendable (isolated SQLiteConnection) throws -> Result
    ) throws -> Result {
        try execute(kind == .immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        do {
            let result = try body(self)
            try execute("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(handle) == 0 {
                _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            }
            throw error
        }
    }

    /// Runs `body` on this connection's queue with exclusive use of it.
    public func withConnection<Result: Sendable>(_ body: @Sendable (isolated SQLiteConnection) throws -> Result) rethrows -> Result {
        try body(self)
    }

    private func withStatement<Result>(_ sql: String, _ arguments: [SQLiteValue], _ body: (OpaquePointer) throws -> Result) throws -> Result {
        let statement = try prepared(sql).pointer
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let expected = Int(sqlite3_bind_parameter_count(statement))
        guard expected == arguments.count else {
            throw SQLiteError(
                code: .range, message: "the statement has \(expected) parameters but \(arguments.count) arguments were given",
                operation: "bind", sql: sql)
        }
        for (offset, argument) in arguments.enumerated() {
            let code = argument.bind(to: statement, at: Int32(offset + 1))
            guard code == SQLITE_OK else { throw SQLiteError(connection: handle, code: code, operation: "bind", sql: sql) }
        }
        return try body(statement)
    }

    /// The maximum number of statements kept prepared; past it the cache is emptied, so applications that
    /// build many distinct SQL texts do not grow it without bound.
    static let statementCacheLimit = 512

    /// Returns the prepared statement for `sql` in the current guard mode, preparing it on
    /// first use. In a tenant mode the lexer check runs before SQLite receives the text, so no
    /// tenant statement is ever prepared unchecked.
    func prepared(_ sql: String) throws -> CachedStatement {
        let key = StatementKey(mode: guardState.mode, sql: sql)
        if let cached = box.statements[key] { return cached }
        var readsWriterState = false
        if guardState.mode != .platform {
            readsWriterState = try SQLStatementCheck.check(sql, allowsFullSQL: guardState.mode == .siloTenant)
        }
        if box.statements.count >= Self.statementCacheLimit {
            for statement in box.statements.values { sqlite3_finalize(statement.pointer) }
            box.statements.removeAll()
        }
        var statement: OpaquePointer?
        guardState.denial = nil
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw failure(code: code, operation: "prepare", sql: sql)
        }
        let cached = CachedStatement(pointer: statement, readsWriterState: readsWriterState)
        box.statements[key] = cached
        return cached
    }

    /// Advances the statement; returns true while it yields a row.
    private func step(_ statement: OpaquePointer, _ sql: String) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code: throw failure(code: code, operation: "step", sql: sql)
        }
    }

    /// Builds the error for a failed call, as an ``IsolationError`` when a guard caused it.
    private func failure(code: Int32, operation: String, sql: String) -> any Error {
        let error = SQLiteError(connection: handle, code: code, operation: operation, sql: sql)
        guard guardState.mode != .platform else { return error }
        // SQLite reports an authorizer denial as SQLITE_AUTH, SQLITE_ERROR or SQLITE_SCHEMA
        // depending on the statement, so the guard's own record of the denial decides.
        if let denial = guardState.denial {
            return IsolationError(.denied, "statement denied: \(denial)")
        }
        if error.code.primary == .interrupt, guardState.deadline != 0 {
            let seconds = Double(guardState.timeLimitNanoseconds) / 1e9
            return IsolationError(
                .timeLimitExceeded,
                "statement interrupted: it ran past the statement time limit of \(seconds.formatted(.number.precision(.fractionLength(0...3)))) s; narrow it, or raise statementTimeLimit")
        }
        if error.code.primary == .tooBig {
            return IsolationError(.lengthLimitExceeded, "statement refused: a string or blob grew past the length limit")
        }
        if error.code == .constraintTrigger, error.message.hasPrefix("tenancy:") {
            return IsolationError(.denied, "statement denied: \(error.message.dropFirst("tenancy: ".count))")
        }
        return error
    }

    /// Runs `body` with the connection bound to a tenant in the given mode, under a statement
    /// time limit, and unbinds it on every exit path: a connection outside this call carries
    /// no tenant.
    ///
    /// A nil tenant binds "no tenant": protected views then return no rows and reject writes.
    func withTenantBinding<Result>(
        _ tenant: [CChar]?, mode: ConnectionGuard.Mode, timeLimitNanoseconds: UInt64, _ body: () throws -> Result
    ) rethrows -> Result {
        precondition(mode != .platform, "a tenant binding needs a tenant mode")
        guardState.mode = mode
        guardState.tenant = tenant
        guardState.deadline = DispatchTime.now().uptimeNanoseconds + max(timeLimitNanoseconds, 1)
        guardState.timeLimitNanoseconds = timeLimitNanoseconds
        defer {
            guardState.mode = .platform
            guardState.tenant = nil
            guardState.deadline = 0
            guardState.denial = nil
        }
        return try body()
    }

    /// Returns whether a statement only reads, as SQLite decides after preparing it.
    func isReadOnly(_ sql: String) throws -> Bool {
        sqlite3_stmt_readonly(try prepared(sql).pointer) != 0
    }

    /// Whether the statement must run on the writer: it writes, or it reads the writer's
    /// connection state.
    func needsWriter(_ sql: String) throws -> Bool {
        let statement = try prepared(sql)
        return statement.readsWriterState || sqlite3_stmt_readonly(statement.pointer) == 0
    }
}
