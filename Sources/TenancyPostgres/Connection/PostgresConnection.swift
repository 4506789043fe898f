internal import CLibPQ
import Dispatch
import Foundation
import Tenancy
import Synchronization

/// One libpq connection, owned by an actor that runs on its own serial Dispatch queue.
///
/// Every libpq call on the connection happens on that queue, so blocking network waits stay
/// off Swift's cooperative pool and the `PGconn*` has exactly one owner. Statements always take
/// bound parameters (`PQexecParams`, text format); only ``executeScript(_:)`` sends SQL without
/// them, for migrations written by the library.
///
/// The synchronous methods (``query(_:_:)``, ``execute(_:_:)``, ``pipeline(_:)``) are meant
/// for the bodies of ``withConnection(_:)`` and ``transaction(_:)``, which also cancel the
/// running statement with `PQcancel` when the calling task is cancelled. Every statement is
/// cancelled when it runs past ``PostgresConfiguration/statementTimeLimit``.
///
/// One path skips the queue: ``PostgresDatabase/query(_:_:)``, ``PostgresDatabase/execute(_:_:)``
/// and ``PostgresDatabase/pipeline(_:)`` send from the calling task without blocking. They wait
/// on the process's poller thread (``sendAndAwait(_:sessionReset:)``), which is safe because the
/// pool checked the connection out for that one call and nothing else can reach it.
public actor PostgresConnection {
    nonisolated let executor: DispatchQueueExecutor
    nonisolated public var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    nonisolated let box: HandleBox
    nonisolated let canceller: QueryCanceller
    /// The settings the connection was opened with.
    public nonisolated let configuration: PostgresConfiguration
    /// The server process serving this connection (`pg_backend_pid()`).
    public nonisolated let backendPID: Int32
    /// The server version as libpq reports it, such as 150018 for 15.18.
    public nonisolated let serverVersion: Int32

    /// Owns the `PGconn*` so it is closed exactly once.
    ///
    /// `@unchecked Sendable` is sound because the actor is the only owner: every access happens
    /// on the actor's queue (or, before the actor exists, on that same queue during
    /// ``PostgresConnection/connect(_:)``), and `deinit` runs after the last reference is gone.
    final class HandleBox: @unchecked Sendable {
        var handle: OpaquePointer?
        /// The names of the statements prepared on this connection by the direct path, by
        /// their SQL and parameter types. Only the direct path reads and writes it, which the
        /// pool runs for one call at a time on a checked-out connection.
        var preparedNames: [PreparedKey: String] = [:]
        /// How many statements the direct path may prepare: 0 when the role can list the
        /// session's prepared statements, else ``PostgresConfiguration/preparedStatementCacheSize``.
        var preparedCapacity = 0

        init(handle: OpaquePointer) {
            self.handle = handle
        }

        func close() {
            if let handle {
                PQfinish(handle)
            }
            handle = nil
        }

        deinit {
            close()
        }
    }

    private init(box: HandleBox, handle: OpaquePointer, canceller: QueryCanceller, executor: DispatchQueueExecutor, configuration: PostgresConfiguration) {
        self.box = box
        self.canceller = canceller
        self.executor = executor
        self.configuration = configuration
        self.backendPID = PQbackendPID(handle)
        self.serverVersion = PQserverVersion(handle)
    }

    /// Opens a connection, on the new connection's own queue.
    ///
    /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/connectionFailed`` with libpq's
    ///   message (it names the host, port and user, never the password).
    public static func connect(_ configuration: PostgresConfiguration) async throws -> PostgresConnection {
        let executor = DispatchQueueExecutor(label: "tenancy.postgres.connection")
        let opened: (HandleBox, QueryCanceller) = try await withCheckedThrowingContinuation { continuation in
            executor.queue.async {
                continuation.resume(with: Result { try open(configuration) })
            }
        }
        guard let handle = opened.0.handle else {
            throw PostgresError(.connectionFailed, operation: "connect", message: "the connection closed while opening")
        }
        return PostgresConnection(box: opened.0, handle: handle, canceller: opened.1, executor: executor, configuration: configuration)
    }

    private static func open(_ configuration: PostgresConfiguration) throws -> (HandleBox, QueryCanceller) {
        let pairs = configuration.keywords
        for (keyword, value) in pairs where value.utf8.contains(0) {
            throw PostgresError(.invalidConfiguration, operation: "connect", message: "the connection setting '\(keyword)' contains a NUL character")
        }
        let keywords = pairs.map { strdup($0.0) } + [nil]
        let values = pairs.map { strdup($0.1) } + [nil]
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        let handle = keywords.map { UnsafePointer($0) }.withUnsafeBufferPointer { keywordPointers in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { valuePointers in
                // expand_dbname = 0: the database name is a name, never a conninfo string.
                PQconnectdbParams(keywordPointers.baseAddress, valuePointers.baseAddress, 0)
            }
        }
        guard let handle else {
            throw PostgresError(.connectionFailed, operation: "connect", message: "libpq could not allocate a connection to \(configuration)")
        }
        let box = HandleBox(handle: handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = Self.errorMessage(handle)
            throw PostgresError(.connectionFailed, operation: "connect", message: "could not connect to \(configuration): \(reason)")
        }
        // Notices (such as "relation already exists, skipping") would go to standard error;
        // the library has no use for them.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        guard let canceller = QueryCanceller(connection: handle) else {
            throw PostgresError(.connectionFailed, operation: "connect", message: "libpq could not create a cancel handle for \(configuration)")
        }
        if configuration.preparedStatementCacheSize > 0, try !listsPreparedStatements(handle) {
            box.preparedCapacity = configuration.preparedStatementCacheSize
        }
        return (box, canceller)
    }

    /// Returns whether the connection's role, or any role it can become, may list the session's
    /// prepared statements, whose names the statement cache must keep secret.
    private static func listsPreparedStatements(_ handle: OpaquePointer) throws -> Bool {
        let sql = """
            WITH RECURSIVE chain(oid) AS (
                SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user
                UNION
                SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN chain c ON m.member OPERATOR(pg_catalog.=) c.oid
            )
            SELECT pg_catalog.bool_or(pg_catalog.has_table_privilege(c.oid, 'pg_catalog.pg_prepared_statements', 'SELECT')
                OR pg_catalog.has_function_privilege(c.oid, 'pg_catalog.pg_prepared_statement()', 'EXECUTE')) AS lists
            FROM chain c
            """
        guard let result = PQexec(handle, sql) else {
            throw PostgresError(.connectionFailed, operation: "connect", message: "the connection failed: \(errorMessage(handle))")
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK, PQntuples(result) == 1 else {
            throw PostgresError(
                .connectionFailed, operation: "connect",
                message: "could not read the role's privileges on pg_prepared_statements: \(errorMessage(handle))")
        }
        // NULL (no role found) counts as visible, so nothing is prepared.
        return PQgetisnull(result, 0, 0) == 1 || String(cString: PQgetvalue(result, 0, 0)) == "t"
    }

    static func errorMessage(_ handle: OpaquePointer) -> String {
        guard let pointer = PQerrorMessage(handle) else { return "unknown error" }
        return String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Returns the open handle.
    ///
    /// - Throws: ``PostgresError/Kind/connectionBroken`` after ``close()``.
    func handle(for operation: String) throws -> OpaquePointer {
        guard let handle = box.handle else {
            throw PostgresError(.connectionBroken, operation: operation, message: "the connection is closed; check out another one from the pool")
        }
        return handle
    }

    /// Closes the connection; later calls throw ``PostgresError/Kind/connectionBroken``.
    public func close() {
        box.close()
    }

    // MARK: - Health

    /// Whether the connection is open, not known to libpq as broken, and outside any
    /// transaction, so the pool may hand it out again.
    ///
    /// First it reads what the server sent while the connection was idle, without waiting:
    /// a server that ends a connection (as `pg_terminate_backend` does) sends an error report
    /// and then closes the socket, and libpq marks the connection bad only when a read meets
    /// the end of the stream. So this reads while `poll` says the socket is readable, a few
    /// times at most, and the check costs no round trip.
    public func isReusable() -> Bool {
        Self.isReusable(box)
    }

    /// Checks what ``isReusable()`` checks, for callers that own the connection without being
    /// on its queue (see ``sendAndAwait(_:sessionReset:)``).
    static func isReusable(_ box: HandleBox) -> Bool {
        guard let handle = box.handle else { return false }
        let socket = PQsocket(handle)
        guard socket >= 0 else { return false }
        for _ in 0..<4 {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { break }
            guard PQconsumeInput(handle) == 1 else { break }
        }
        // libpq keeps every notification for a channel the session listens on until
        // PQnotifies returns it. The library never reads them, so without this, SQL that runs
        // LISTEN and NOTIFY would grow the process's memory with each use of the connection.
        while let notification = PQnotifies(handle) {
            PQfreemem(notification)
        }
        return PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    // MARK: - Calls

    /// Runs `body` with exclusive use of this connection; cancelling the calling task cancels
    /// the statement `body` is running and makes every later statement throw
    /// `CancellationError`.
    @discardableResult
    public nonisolated func withConnection<Result: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> Result) async throws -> Result {
        try await withTaskCancellation { connection in try body(connection) }
    }

    /// Runs `body` between `BEGIN` and `COMMIT`; rolls back when it throws. Cancellation works
    /// as in ``withConnection(_:)``.
    @discardableResult
    public nonisolated func transaction<Result: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> Result) async throws -> Result {
        try await withTaskCancellation { connection in try connection.inTransaction { try body(connection) } }
    }

    /// Runs `body` between `BEGIN` and `COMMIT` on this connection's queue, rolling back when it
    /// throws.
    func inTransaction<Result>(_ body: () throws -> Result) throws -> Result {
        try execute("BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            rollBackQuietly()
            throw error
        }
    }

    /// Returns the session to its state after connecting with `DISCARD ALL` (settings, role,
    /// prepared statements, held cursors, `LISTEN`, advisory locks, temporary tables), or
    /// closes the connection when that fails, so the pool opens a new one instead.
    func discardSessionState() {
        do {
            try executeScript("DISCARD ALL")
            box.preparedNames = [:]
        } catch {
            close()
        }
    }

    /// Runs `statements`, which take no arguments, in one round trip to undo what earlier SQL
    /// left on the session, or closes the connection when one fails, so the pool opens a new
    /// one instead.
    func resetSession(_ statements: [PostgresStatement]) {
        do {
            try executeScript(statements.map(\.sql).joined(separator: ";\n"))
        } catch {
            close()
        }
    }

    /// Rolls back an open transaction, keeping the error that caused it.
    func rollBackQuietly() {
        guard let handle = box.handle, PQtransactionStatus(handle) != PQTRANS_IDLE else { return }
        if let result = PQexec(handle, "ROLLBACK") {
            PQclear(result)
        }
    }

    /// The call number of a ``withTaskCancellation(_:)`` call, handed from the connection's queue
    /// to the cancellation handler, which may run on any thread.
    final class CallState: Sendable {
        private struct State {
            var call: UInt64?
            var cancelled = false
        }

        private let state = Mutex(State())

        /// Records the call; returns false when the task was cancelled before it started.
        func start(_ call: UInt64) -> Bool {
            state.withLock { state in
                state.call = call
                return !state.cancelled
            }
        }

        /// Marks the task cancelled and returns the call to cancel, if it started.
        func cancel() -> UInt64? {
            state.withLock { state in
                state.cancelled = true
                return state.call
            }
        }
    }

    /// Runs `body` on this connection's queue as one call that task cancellation applies to.
    ///
    /// The body is entered through an awaited hop into a synchronous actor method from a
    /// nonisolated context. The operation closure of `withTaskCancellationHandler`, called from
    /// inside an actor method, was seen running on the cooperative pool although the compiler
    /// treated it as isolated to the actor, which put blocking libpq calls on that pool.
    nonisolated func withTaskCancellation<Result: Sendable>(
        _ body: @Sendable (isolated PostgresConnection) throws -> Result
    ) async throws -> Result {
        let callState = CallState()
        let canceller = self.canceller
        return try await withTaskCancellationHandler {
            try await self.runCall(callState, body)
        } onCancel: {
            if let call = callState.cancel() {
                canceller.cancelCall(call)
            }
        }
    }

    private func runCall<Result: Sendable>(
        _ callState: CallState, _ body: @Sendable (isolated PostgresConnection) throws -> Result
    ) throws -> Result {
        let call = canceller.beginCall()
        guard callState.start(call) else { throw CancellationError() }
        try Task.checkCancellation()
        return try body(self)
    }

    // MARK: - Statements

    /// Runs one statement with bound arguments and returns its rows.
    public func query(_ sql: String, _ arguments: [PostgresValue] = []) throws -> [PostgresRow] {
        try run(sql, arguments).rows
    }

    /// Runs one statement with bound arguments and returns the number of rows it changed.
    @discardableResult
    public func execute(_ sql: String, _ arguments: [PostgresValue] = []) throws -> Int {
        try run(sql, arguments).affectedRows
    }

    /// Runs one statement with bound arguments and returns its rows and changed-row count.
    public func run(_ sql: String, _ arguments: [PostgresValue] = []) throws -> PostgresResult {
        let handle = try handle(for: "query")
        return try withStatementControl(operation: "query", sql: sql) {
            let result = try withParameters(arguments, sql: sql) { count, types, values in
                PQexecParams(handle, sql, count, types, values, nil, nil, 0)
            }
            return try consume(result, operation: "query", sql: sql)
        }
    }

    /// Runs several statements without parameters, as a migration does, in one round trip.
    ///
    /// Only for SQL the library or an operator wrote: nothing is bound, so never pass text
    /// that contains input from requests or tenants.
    public func executeScript(_ sql: String) throws {
        let handle = try handle(for: "execute script")
        try withStatementControl(operation: "execute script", sql: sql) {
            _ = try consume(PQexec(handle, sql), operation: "execute script", sql: sql)
        }
    }

    /// Runs `body` as one statement under the time limit and the task's cancellation, turning
    /// a cancellation the library requested into the matching error.
    func withStatementControl<Result>(operation: String, sql: String?, _ body: () throws -> Result) throws -> Result {
        let statement = try canceller.beginStatement()
        var timer: DispatchWorkItem?
        if let limit = configuration.statementTimeLimit {
            let canceller = self.canceller
            let item = DispatchWorkItem { canceller.cancelStatement(statement) }
            QueryCanceller.timeLimitQueue.asyncAfter(deadline: .now() + limit.dispatchInterval, execute: item)
            timer = item
        }
        let outcome = Swift.Result { try body() }
        timer?.cancel()
        let reason = canceller.endStatement()
        return try explainCancellation(outcome, reason: reason, operation: operation, sql: sql).get()
    }

    /// Turns a `query_canceled` error the library caused into `CancellationError` (the task was
    /// cancelled) or ``PostgresError/Kind/statementTimedOut`` (the time limit passed).
    nonisolated func explainCancellation<Value>(
        _ outcome: Swift.Result<Value, any Error>, reason: QueryCanceller.Reason?, operation: String, sql: String?
    ) -> Swift.Result<Value, any Error> {
        guard case .failure(let error as PostgresError) = outcome, error.code == .queryCanceled else { return outcome }
        switch reason {
        case .taskCancelled?:
            return .failure(CancellationError())
        case .timeLimit?:
            let limit = configuration.statementTimeLimit.map { "\($0)" } ?? "none"
            return .failure(
                PostgresError(
                    .statementTimedOut, code: .queryCanceled, operation: operation,
                    message: "the statement ran past the time limit of \(limit) and was cancelled; make it faster or raise statementTimeLimit",
                    sql: sql))
        case nil:
            return outcome
        }
    }

    /// Calls `body` with the parameter arrays `PQexecParams` and `PQsendQueryParams` take.
    nonisolated func withParameters<Result>(
        _ arguments: [PostgresValue], sql: String,
        _ body: (Int32, UnsafePointer<UInt32>?, UnsafePointer<UnsafePointer<CChar>?>?) throws -> Result
    ) throws -> Result {
        for (offset, argument) in arguments.enumerated() {
            if case .text(let text) = argument, text.utf8.contains(0) {
                throw PostgresError(
                    .invalidArgument, operation: "bind",
                    message: "argument $\(offset + 1) contains a NUL character, which PostgreSQL text cannot store; send it as bytes", sql: sql)
            }
        }
        let types = arguments.map(\.typeOID)
        let values = arguments.map { $0.encoded.map { strdup($0) } ?? nil }
        defer { values.forEach { free($0) } }
        let pointers = values.map { UnsafePointer($0) }
        return try types.withUnsafeBufferPointer { typeBuffer in
            try pointers.withUnsafeBufferPointer { valueBuffer in
                try body(Int32(arguments.count), typeBuffer.baseAddress, valueBuffer.baseAddress)
            }
        }
    }

    /// Converts a result to rows, or to an error, and frees it.
    nonisolated func consume(_ result: OpaquePointer?, operation: String, sql: String) throws -> PostgresResult {
        guard let result else {
            throw connectionError(operation: operation, sql: sql)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(rows: [], affectedRows: Self.affectedRows(result))
        case PGRES_TUPLES_OK:
            return PostgresResult(rows: Self.rows(result), affectedRows: Self.affectedRows(result))
        case PGRES_FATAL_ERROR:
            if PQresultErrorField(result, tenancy_pg_diag_sqlstate) == nil {
                throw connectionError(operation: operation, sql: sql)
            }
            throw PostgresError(result: result, operation: operation, sql: sql)
        case PGRES_COPY_OUT, PGRES_COPY_IN, PGRES_COPY_BOTH:
            throw Self.copyNotSupported(sql: sql)
        case let status:
            throw PostgresError(
                .protocolViolation, operation: operation,
                message: "unexpected result status \(String(cString: PQresStatus(status))); the library handles single statements and pipelines only",
                sql: sql)
        }
    }

    /// Builds the error for a failure without a server error report, which means the
    /// connection broke.
    nonisolated func connectionError(operation: String, sql: String?) -> PostgresError {
        let reason = box.handle.map(Self.errorMessage) ?? "the connection is closed"
        return PostgresError(.connectionBroken, operation: operation, message: "the connection failed: \(reason)", sql: sql)
    }

    /// Returns the error for a statement that starts a COPY data stream. The connection is left
    /// inside the copy, so the pool closes it.
    static func copyNotSupported(sql: String? = nil) -> PostgresError {
        PostgresError(
            .invalidArgument, operation: "pipeline",
            message: "COPY with STDIN or STDOUT is not supported, because the library reads whole results; read rows with SELECT and write them with INSERT",
            sql: sql)
    }

    static func affectedRows(_ result: OpaquePointer) -> Int {
        guard let tag = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: tag)) ?? 0
    }

    static func rows(_ result: OpaquePointer) -> [PostgresRow] {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let columns = PostgresColumns(
            names: (0..<Int32(columnCount)).map { String(cString: PQfname(result, $0)) },
            typeOIDs: (0..<Int32(columnCount)).map { PQftype(result, $0) })
        var offsets = [Int](repeating: -1, count: rowCount * columnCount)
        var lengths = [Int32](repeating: 0, count: rowCount * columnCount)
        var total = 0
        for row in 0..<rowCount {
            for column in 0..<columnCount where PQgetisnull(result, Int32(row), Int32(column)) == 0 {
                let cell = row * columnCount + column
                let length = PQgetlength(result, Int32(row), Int32(column))
                offsets[cell] = total
                lengths[cell] = length
                total += Int(length)
            }
        }
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            for row in 0..<rowCount {
                for column in 0..<columnCount {
                    let cell = row * columnCount + column
                    guard offsets[cell] >= 0, lengths[cell] > 0, let value = PQgetvalue(result, Int32(row), Int32(column)) else { continue }
                    UnsafeMutableRawPointer(buffer.baseAddress! + offsets[cell]).copyMemory(from: value, byteCount: Int(lengths[cell]))
                }
            }
            initialized = total
        }
        let cells = PostgresCells(columnCount: columnCount, bytes: bytes, offsets: offsets, lengths: lengths)
        return (0..<rowCount).map { PostgresRow(columns: columns, cells: cells, row: $0) }
    }
}

extension Duration {
    /// The duration for Dispatch deadlines, in whole nanoseconds.
    var dispatchInterval: DispatchTimeInterval {
        let nanoseconds = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !nanoseconds.overflow else { return .never }
        return .nanoseconds(Int(clamping: nanoseconds.partialValue + components.attoseconds / 1_000_000_000))
    }
}
