import Foundation
import Synchronization

/// A bounded pool of connections to one PostgreSQL database as one role.
///
/// Connections open on demand, up to ``maximumConnections``. A checkout waits, first come
/// first served, at most ``checkoutTimeout`` for a free connection. Before handing out an idle
/// connection the pool checks it (``PostgresConnection/isReusable()``) and replaces a broken
/// one. A connection returned inside a transaction, or broken, is closed instead of reused.
public final class PostgresDatabase: Sendable {
    public let configuration: PostgresConfiguration
    public let maximumConnections: Int
    public let checkoutTimeout: Duration

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Handoff, any Error>
    }

    /// The value a waiting checkout receives: a connection, or a reserved slot to open one in.
    private enum Handoff: Sendable {
        case connection(PostgresConnection)
        case slot
    }

    private struct State {
        var idle: [PostgresConnection] = []
        /// Connections open or being opened, idle or checked out.
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    private let state = Mutex(State())

    /// Creates a pool; no connection opens until the first checkout.
    ///
    /// - Parameters:
    ///   - maximumConnections: the most connections open at once, 1 or more.
    ///   - checkoutTimeout: how long a checkout waits for a free connection before it throws
    ///     ``PostgresError/Kind/checkoutTimedOut``.
    public init(_ configuration: PostgresConfiguration, maximumConnections: Int = 10, checkoutTimeout: Duration = .seconds(10)) throws {
        guard maximumConnections >= 1 else {
            throw PostgresError(.invalidConfiguration, operation: "create pool", message: "invalid pool size \(maximumConnections): expected 1 or more")
        }
        guard configuration.preparedStatementCacheSize >= 0 else {
            throw PostgresError(
                .invalidConfiguration, operation: "create pool",
                message: "invalid prepared statement cache size \(configuration.preparedStatementCacheSize): expected 0 or more")
        }
        guard checkoutTimeout > .zero else {
            throw PostgresError(.invalidConfiguration, operation: "create pool", message: "invalid checkout timeout \(checkoutTimeout): expected more than zero")
        }
        self.configuration = configuration
        self.maximumConnections = maximumConnections
        self.checkoutTimeout = checkoutTimeout
    }

    /// Creates a pool for a `postgres://` URL; see ``PostgresConfiguration/init(url:)``.
    public convenience init(url: String, maximumConnections: Int = 10, checkoutTimeout: Duration = .seconds(10)) throws {
        try self.init(PostgresConfiguration(url: url), maximumConnections: maximumConnections, checkoutTimeout: checkoutTimeout)
    }

    // MARK: - Work

    /// Runs `body` on a checked-out connection and returns the connection to the pool.
    @discardableResult
    public func withConnection<Result: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> Result) async throws -> Result {
        try await runOnPooledConnection(transactional: false, body)
    }

    /// Runs `body` in a transaction on a checked-out connection: commits when it returns,
    /// rolls back when it throws.
    @discardableResult
    public func transaction<Result: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> Result) async throws -> Result {
        try await runOnPooledConnection(transactional: true, body)
    }

    /// What one call on a pooled connection found.
    private enum PooledOutcome<Value: Sendable>: Sendable {
        /// The connection was broken or left in a transaction when the call began.
        case broken
        /// The body ran; `reusable` says whether the connection may go back to the pool.
        case finished(Swift.Result<Value, any Error>, reusable: Bool)
    }

    /// Runs `body` on a pooled connection, checking in the same hop to the connection's queue
    /// that the connection is usable before the body and reusable after it.
    ///
    /// Checking reusability with separate calls cost one extra hop to the connection's queue
    /// on checkout and another on check-in, each a thread wake-up, which measured as the main
    /// gap between the library and pgbench on the same statement.
    private func runOnPooledConnection<Value: Sendable>(
        transactional: Bool, _ body: @Sendable (isolated PostgresConnection) throws -> Value
    ) async throws -> Value {
        while true {
            let connection = try await checkOut(verifying: false)
            let outcome: PooledOutcome<Value>
            do {
                outcome = try await connection.withConnection { connection in
                    guard connection.isReusable() else { return .broken }
                    let result = Swift.Result {
                        transactional ? try connection.inTransaction { try body(connection) } : try body(connection)
                    }
                    return .finished(result, reusable: connection.isReusable())
                }
            } catch {
                // The call failed before the body ran, as when the task was cancelled.
                await checkIn(connection)
                throw error
            }
            switch outcome {
            case .broken:
                await discard(connection)
            case .finished(let result, let reusable):
                await release(connection, reusable: reusable)
                return try result.get()
            }
        }
    }

    /// Returns a connection to the pool after a call, or closes it when it is not reusable.
    private func release(_ connection: PostgresConnection, reusable: Bool) async {
        if reusable {
            await returnToPool(connection)
        } else {
            await discard(connection)
        }
    }

    /// Runs one statement and returns its rows.
    public func query(_ sql: String, _ arguments: [PostgresValue] = []) async throws -> [PostgresRow] {
        try await pipeline([PostgresStatement(sql, arguments)])[0].rows
    }

    /// Runs one statement and returns the number of rows it changed.
    @discardableResult
    public func execute(_ sql: String, _ arguments: [PostgresValue] = []) async throws -> Int {
        try await pipeline([PostgresStatement(sql, arguments)])[0].affectedRows
    }

    /// Runs statements in one round trip; see ``PostgresConnection/pipeline(_:)``.
    ///
    /// The calling task sends them without blocking and waits for the results on the
    /// process's poller thread (``PostgresConnection/sendAndAwait(_:sessionReset:)``), so a
    /// statement costs no hop to the connection's queue.
    public func pipeline(_ statements: [PostgresStatement]) async throws -> [PostgresResult] {
        try await pipeline(statements, sessionReset: [])
    }

    /// Runs statements as ``pipeline(_:)`` does, then `sessionReset` in the same round trip.
    ///
    /// The reset runs after the statements' transaction ended, whatever its outcome. The
    /// connection goes back to the pool only when every reset statement succeeded.
    func pipeline(_ statements: [PostgresStatement], sessionReset: [PostgresStatement]) async throws -> [PostgresResult] {
        guard !statements.isEmpty else { return [] }
        var preparedAgain = false
        while true {
            let connection = try await checkOut(verifying: false)
            switch await connection.sendAndAwait(statements, sessionReset: sessionReset) {
            case .broken:
                await discard(connection)
            case .finished(let result, let reusable):
                await release(connection, reusable: reusable)
                do {
                    return try result.get()
                } catch let missing as PreparedStatementMissing {
                    // SQL on the connection deallocated a statement the library prepared;
                    // nothing of the pipeline ran, and the next attempt prepares it again.
                    guard !preparedAgain else { throw missing.error }
                    preparedAgain = true
                }
            }
        }
    }

    /// Checks out a connection for `body`, which may suspend and use it for several calls.
    ///
    /// `body` must not keep the connection after it returns. A connection left in a
    /// transaction or broken is closed instead of returned to the pool.
    public func withCheckedOutConnection<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let connection = try await checkOut()
        do {
            let result = try await body(connection)
            await checkIn(connection)
            return result
        } catch {
            await checkIn(connection)
            throw error
        }
    }

    /// Closes idle connections and fails every waiting and later checkout; connections in use
    /// close when they are returned.
    public func close() async {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            defer {
                state.open -= state.idle.count
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: Self.closedError())
        }
        for connection in idle {
            await connection.close()
        }
    }

    /// The number of connections open or opening, idle or in use.
    public var openConnections: Int { state.withLock { $0.open } }

    // MARK: - Checkout

    private enum Decision {
        case reuse(PostgresConnection)
        case open
        case wait
        case closed
    }

    /// Takes an idle connection, opens one, or waits for one.
    ///
    /// - Parameter verifying: check that a reused connection is still usable (one hop to its
    ///   queue); callers that check on the connection's queue themselves pass false.
    func checkOut(verifying: Bool = true) async throws -> PostgresConnection {
        while true {
            let decision: Decision = state.withLock { state in
                if state.closed { return .closed }
                if let connection = state.idle.popLast() { return .reuse(connection) }
                if state.open < maximumConnections {
                    state.open += 1
                    return .open
                }
                return .wait
            }
            switch decision {
            case .closed:
                throw Self.closedError()
            case .reuse(let connection):
                if !verifying { return connection }
                if await connection.isReusable() { return connection }
                await discard(connection)
            case .open:
                return try await openInReservedSlot()
            case .wait:
                switch try await waitForHandoff() {
                case .connection(let connection):
                    if !verifying { return connection }
                    if await connection.isReusable() { return connection }
                    await discard(connection)
                case .slot:
                    return try await openInReservedSlot()
                }
            }
        }
    }

    /// Opens a connection in a slot already counted in `open`, giving the slot back on failure.
    private func openInReservedSlot() async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration)
        } catch {
            releaseSlot()
            throw error
        }
    }

    /// Returns a connection: to a waiter or the idle list when reusable, else closes it.
    func checkIn(_ connection: PostgresConnection) async {
        guard await connection.isReusable() else {
            await discard(connection)
            return
        }
        await returnToPool(connection)
    }

    /// Returns a connection known to be reusable: to a waiter or the idle list, or closes it
    /// when the pool is closed.
    private func returnToPool(_ connection: PostgresConnection) async {
        enum Action {
            case handOff(Waiter)
            case keep
            case close
        }
        let action: Action = state.withLock { state in
            if state.closed { return .close }
            if !state.waiters.isEmpty { return .handOff(state.waiters.removeFirst()) }
            state.idle.append(connection)
            return .keep
        }
        switch action {
        case .handOff(let waiter):
            waiter.continuation.resume(returning: .connection(connection))
        case .keep:
            break
        case .close:
            await discard(connection)
        }
    }

    /// Closes a connection and frees its slot for the next waiter.
    private func discard(_ connection: PostgresConnection) async {
        await connection.close()
        releaseSlot()
    }

    /// Frees one slot: a waiter gets it to open a new connection, else the count goes down.
    private func releaseSlot() {
        let waiter: Waiter? = state.withLock { state in
            if !state.closed, !state.waiters.isEmpty {
                return state.waiters.removeFirst()
            }
            state.open -= 1
            return nil
        }
        waiter?.continuation.resume(returning: .slot)
    }

    private func waitForHandoff() async throws -> Handoff {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let timeout = checkoutTimeout
        let size = maximumConnections
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.removeWaiter(
                id,
                error: PostgresError(
                    .checkoutTimedOut, operation: "checkout",
                    message: "no connection became free within \(timeout) (pool size \(size)); raise the pool size or the checkout timeout, or shorten transactions"))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let registered = state.withLock { state in
                    guard !state.closed else { return false }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return true
                }
                if !registered {
                    continuation.resume(throwing: Self.closedError())
                } else if Task.isCancelled {
                    removeWaiter(id, error: CancellationError())
                }
            }
        } onCancel: {
            removeWaiter(id, error: CancellationError())
        }
    }

    /// Fails a waiting checkout, if it still waits.
    private func removeWaiter(_ id: UInt64, error: any Error) {
        let waiter: Waiter? = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }

    private static func closedError() -> PostgresError {
        PostgresError(.poolClosed, operation: "checkout", message: "the pool is closed; create a new PostgresDatabase")
    }
}
