internal import CLibPQ
import Dispatch
import Synchronization

/// Sends `PQcancel` for the statement a connection is running, when its task is cancelled or
/// its time limit passes, and never for a statement that already finished.
///
/// `@unchecked Sendable` is sound because the `PGcancel*` is written once (in `init`) and freed
/// once (in `deinit`, after the last reference is gone), and libpq documents `PQcancel` as
/// reading the object only, so calls from several threads at once are safe. Every other field
/// is behind the mutex.
final class QueryCanceller: @unchecked Sendable {
    /// The reason the library cancelled a statement.
    enum Reason: Sendable {
        case taskCancelled
        case timeLimit
    }

    private struct State {
        /// The call (``PostgresConnection/withTaskCancellation(_:)``) that owns the connection.
        var call: UInt64 = 0
        /// Set when the owning call's task was cancelled.
        var callCancelled = false
        /// The statement in flight, counted per connection; 0 when none runs.
        var runningStatement: UInt64 = 0
        var lastStatement: UInt64 = 0
        var reason: Reason?
    }

    /// The serial queue that time-limit cancellations run on. `PQcancel` blocks on the network,
    /// and on Linux `DispatchQueue.global()` shares its threads with Swift's cooperative pool.
    static let timeLimitQueue = DispatchQueue(label: "tenancy.postgres.cancel")

    private let handle: OpaquePointer
    private let state = Mutex(State())

    init?(connection: OpaquePointer) {
        guard let handle = PQgetCancel(connection) else { return nil }
        self.handle = handle
    }

    deinit {
        PQfreeCancel(handle)
    }

    /// Starts a call that task cancellation applies to, and returns its number.
    func beginCall() -> UInt64 {
        state.withLock { state in
            state.call += 1
            state.callCancelled = false
            return state.call
        }
    }

    /// Cancels the running statement of `call`, and every later one of that call.
    func cancelCall(_ call: UInt64) {
        state.withLock { state in
            guard state.call == call else { return }
            state.callCancelled = true
            if state.runningStatement != 0 {
                state.reason = .taskCancelled
                sendCancel()
            }
        }
    }

    /// Marks a statement as running and returns its number.
    ///
    /// - Throws: `CancellationError` when the owning call's task was cancelled already.
    func beginStatement() throws -> UInt64 {
        try state.withLock { state in
            if state.callCancelled { throw CancellationError() }
            state.lastStatement += 1
            state.runningStatement = state.lastStatement
            state.reason = nil
            return state.lastStatement
        }
    }

    /// Cancels `statement` because its time limit passed, if it still runs.
    func cancelStatement(_ statement: UInt64) {
        state.withLock { state in
            guard state.runningStatement == statement else { return }
            state.reason = .timeLimit
            sendCancel()
        }
    }

    /// Marks the statement as finished and returns why the library cancelled it, if it did.
    func endStatement() -> Reason? {
        state.withLock { state in
            state.runningStatement = 0
            return state.reason
        }
    }

    /// Sends the cancel request while the caller holds the lock.
    ///
    /// Holding the lock keeps ``endStatement()`` waiting until `PQcancel` returns, which is
    /// after the server signalled the backend; the next statement is only sent after that, so
    /// the request cannot cancel it. A backend that already went idle ignores the request.
    private func sendCancel() {
        var buffer = [CChar](repeating: 0, count: 256)
        // A failed request (the server unreachable) leaves the time limit or the broken
        // connection to end the statement, so the result is not checked.
        _ = PQcancel(handle, &buffer, Int32(buffer.count))
    }
}
