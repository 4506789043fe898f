internal import CLibPQ
import Dispatch
import Foundation
import Synchronization

/// One thread that waits, with epoll, on the sockets of every connection that has a statement
/// in flight through the pool's direct path, and reads the results as they arrive (see
/// ``PostgresConnection/sendAndAwait(_:sessionReset:)``).
///
/// A statement through a connection's own queue costs two thread wake-ups on the client: the
/// queue's thread to send, then the same thread again when the reply arrives, before the
/// calling task resumes. Here the calling task sends without blocking on its own thread, and
/// this thread wakes once for every batch of replies that arrive together, the way an event
/// loop such as pgbench's does.
///
/// `@unchecked Sendable` is sound because the epoll descriptor is written once, and the table
/// of operations is behind a mutex.
final class PostgresPoller: @unchecked Sendable {
    /// The process's poller, started on first use.
    static let shared = PostgresPoller()

    private let epoll: Int32
    /// Written to wake the thread when a new operation's time limit ends before the thread's
    /// planned wake-up; reported with token 0.
    private let wakeEvent: Int32
    private let operations = Mutex([UInt64: PollOperation]())
    private let nextToken = Atomic<UInt64>(1)
    /// The latest time the thread wakes (`DispatchTime` nanoseconds). ``register(_:)`` compares
    /// a new time limit with it to decide whether to wake the thread early.
    private let plannedWake = Atomic<UInt64>(0)
    /// The maximum sleep in milliseconds with nothing to wait for. A new operation wakes the
    /// thread only when its time limit is shorter than this.
    private static let idleWait: Int32 = 1_000

    private init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epoll >= 0, "epoll_create1 failed with errno \(errno)")
        wakeEvent = tenancy_eventfd()
        precondition(wakeEvent >= 0, "eventfd failed with errno \(errno)")
        precondition(tenancy_epoll_add_readable(epoll, wakeEvent, 0) == 0, "epoll_ctl failed with errno \(errno)")
        let thread = Thread { [self] in run() }
        thread.name = "tenancy.postgres.poller"
        thread.start()
    }

    /// Starts waiting for `operation`'s socket; the operation completes its continuation.
    ///
    /// - Returns: false when epoll refused the socket (the connection is then broken).
    func register(_ operation: PollOperation) -> Bool {
        let token = nextToken.wrappingAdd(1, ordering: .relaxed).oldValue
        operations.withLock { $0[token] = operation }
        guard arm(operation, token: token) else {
            operations.withLock { _ = $0.removeValue(forKey: token) }
            return false
        }
        if let deadline = operation.deadline, deadline.uptimeNanoseconds < plannedWake.load(ordering: .acquiring) {
            var one: UInt64 = 1
            _ = write(wakeEvent, &one, MemoryLayout<UInt64>.size)
        }
        return true
    }

    private func arm(_ operation: PollOperation, token: UInt64) -> Bool {
        let events = tenancy_epoll_in | (operation.needsWrite ? tenancy_epoll_out : 0)
        return tenancy_epoll_arm(epoll, operation.socket, events, token) == 0
    }

    private func run() {
        let capacity = 64
        var tokens = [UInt64](repeating: 0, count: capacity)
        var flags = [UInt32](repeating: 0, count: capacity)
        while true {
            let count = tokens.withUnsafeMutableBufferPointer { tokenBuffer in
                flags.withUnsafeMutableBufferPointer { flagBuffer in
                    tenancy_epoll_wait(epoll, tokenBuffer.baseAddress, flagBuffer.baseAddress, Int32(capacity), waitMilliseconds())
                }
            }
            if count < 0 {
                precondition(errno == EINTR, "epoll_wait failed with errno \(errno)")
                continue
            }
            for index in 0..<Int(count) {
                let token = tokens[index]
                if token == 0 {
                    var value: UInt64 = 0
                    _ = read(wakeEvent, &value, MemoryLayout<UInt64>.size)
                    continue
                }
                guard let operation = operations.withLock({ $0[token] }) else { continue }
                if operation.advance() {
                    operations.withLock { _ = $0.removeValue(forKey: token) }
                    operation.finish()
                } else if !arm(operation, token: token) {
                    operations.withLock { _ = $0.removeValue(forKey: token) }
                    operation.fail(reason: "epoll could not wait on the socket (errno \(errno))")
                    operation.finish()
                }
            }
            cancelOverdue()
        }
    }

    /// Milliseconds until the nearest time limit, at most ``idleWait``, recorded in
    /// ``plannedWake``.
    private func waitMilliseconds() -> Int32 {
        let now = DispatchTime.now().uptimeNanoseconds
        let idle = now + UInt64(Self.idleWait) * 1_000_000
        // Stored before reading the deadlines. An operation registered after this store reads
        // the new plan and wakes the thread if needed, and one registered before is read below.
        plannedWake.store(idle, ordering: .releasing)
        let nearest = operations.withLock { operations in
            operations.values.flatMap { [$0.deadline, $0.abandonAt].compactMap { $0 } }.min()
        }
        guard let nearest, nearest.uptimeNanoseconds < idle else { return Self.idleWait }
        plannedWake.store(nearest.uptimeNanoseconds, ordering: .releasing)
        guard nearest.uptimeNanoseconds > now else { return 0 }
        return Int32(clamping: (nearest.uptimeNanoseconds - now) / 1_000_000 + 1)
    }

    /// Sends `PQcancel` for every operation past its time limit, once, off this thread
    /// (`PQcancel` opens a connection to the server and waits for it), and gives up on every
    /// operation still running a grace period later.
    ///
    /// SQL can catch the cancel request (a `DO` block with `EXCEPTION WHEN query_canceled`)
    /// and go on. Giving up resumes the sender with ``PostgresError/Kind/statementTimedOut``,
    /// and the connection, still busy, is closed instead of reused. The server's backend goes
    /// on until it finishes or notices; the C binding check ends it itself (see
    /// ``PostgresTenantBinding/endsAfterMilliseconds(timeLimit:)``).
    private func cancelOverdue() {
        let now = DispatchTime.now()
        var abandoned: [PollOperation] = []
        let overdue = operations.withLock { operations in
            var overdue: [PollOperation] = []
            for (token, operation) in operations {
                if let deadline = operation.deadline, deadline <= now {
                    operation.deadline = nil
                    operation.abandonAt = now + operation.grace
                    overdue.append(operation)
                } else if let abandonAt = operation.abandonAt, abandonAt <= now {
                    operations.removeValue(forKey: token)
                    abandoned.append(operation)
                }
            }
            return overdue
        }
        for operation in overdue {
            let canceller = operation.canceller
            let statement = operation.statement
            QueryCanceller.timeLimitQueue.async { canceller.cancelStatement(statement) }
        }
        for operation in abandoned {
            operation.abandon()
            operation.finish()
        }
    }
}

/// A pipeline sent on a connection, read by ``PostgresPoller`` until its last Sync result
/// arrives.
///
/// The task that sent the pipeline hands the `PGconn*` to the poller thread by registering the
/// operation, and takes it back when the continuation resumes, so exactly one thread uses the
/// connection at a time. `@unchecked Sendable` is sound because of that hand-off. The fields
/// the poller reads from another thread, ``deadline`` and ``abandonAt``, are only changed under
/// the poller's lock after registration.
final class PollOperation: @unchecked Sendable {
    let handle: OpaquePointer
    let socket: Int32
    let canceller: QueryCanceller
    let statement: UInt64
    var deadline: DispatchTime?
    /// When the poller gives up on a statement that went on after its cancel request; set when
    /// the deadline passes.
    var abandonAt: DispatchTime?
    /// How long after the cancel request the poller waits before it gives up.
    let grace: DispatchTimeInterval
    var needsWrite: Bool

    /// The number of results before each Sync, counted from the start: `[2, 4]` for two
    /// statements, a Sync, two more and a second Sync.
    private let syncPositions: [Int]
    private var phase: Phase = .result(0)
    /// One raw result per statement, in order; the sender frees them.
    private(set) var results: [OpaquePointer] = []
    /// The status of each Sync result read so far, in order.
    private(set) var syncStatuses: [ExecStatusType] = []
    /// Why the pipeline could not finish: the connection failed, or the server started a COPY.
    private(set) var failure: PostgresError?
    var continuation: CheckedContinuation<Void, Never>?

    private enum Phase {
        /// Waiting for statement `index`'s result.
        case result(Int)
        /// Reading past statement `index`'s result to the NULL that ends it.
        case drain(Int)
        /// Waiting for the Sync result after statement `index`.
        case sync(after: Int)
        case done
    }

    init(
        handle: OpaquePointer, socket: Int32, canceller: QueryCanceller, statement: UInt64, deadline: DispatchTime?, syncPositions: [Int],
        needsWrite: Bool, grace: DispatchTimeInterval = .seconds(1)
    ) {
        self.handle = handle
        self.socket = socket
        self.canceller = canceller
        self.statement = statement
        self.deadline = deadline
        self.grace = grace
        self.syncPositions = syncPositions
        self.needsWrite = needsWrite
    }

    /// Sends what is left to send and reads what arrived; returns true when the pipeline is
    /// complete or the connection failed.
    func advance() -> Bool {
        if needsWrite {
            switch PQflush(handle) {
            case 0: needsWrite = false
            case 1: break
            default:
                fail(reason: PostgresConnection.errorMessage(handle))
                return true
            }
        }
        guard PQconsumeInput(handle) == 1 else {
            fail(reason: PostgresConnection.errorMessage(handle))
            return true
        }
        while true {
            if case .done = phase { return true }
            if PQstatus(handle) == CONNECTION_BAD {
                fail(reason: PostgresConnection.errorMessage(handle))
                return true
            }
            if PQisBusy(handle) == 1 { return false }
            let result = PQgetResult(handle)
            if let result, Self.isCopy(PQresultStatus(result)) {
                // libpq returns a COPY result again on every call until the copy ends, so
                // reading on would never finish. Closing the connection ends the copy.
                PQclear(result)
                failure = PostgresConnection.copyNotSupported()
                phase = .done
                return true
            }
            switch phase {
            case .result(let index):
                guard let result else {
                    fail(reason: PostgresConnection.errorMessage(handle))
                    return true
                }
                results.append(result)
                phase = .drain(index)
            case .drain(let index):
                if let result {
                    PQclear(result)
                } else {
                    phase = syncPositions.contains(index + 1) ? .sync(after: index) : .result(index + 1)
                }
            case .sync(let index):
                guard let result else {
                    fail(reason: PostgresConnection.errorMessage(handle))
                    return true
                }
                syncStatuses.append(PQresultStatus(result))
                PQclear(result)
                let next = index + 1
                phase = next < (syncPositions.last ?? 0) ? .result(next) : .done
            case .done:
                return true
            }
        }
    }

    static func isCopy(_ status: ExecStatusType) -> Bool {
        status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH
    }

    /// Ends the operation with a broken connection.
    func fail(reason: String) {
        failure = PostgresError(.connectionBroken, operation: "pipeline", message: "the connection failed: \(reason)")
        phase = .done
    }

    /// Ends the operation as timed out, for a statement that went on after its cancel request.
    func abandon() {
        failure = PostgresError(
            .statementTimedOut, code: .queryCanceled, operation: "pipeline",
            message: "the statement went on after the cancel request at its time limit, so the pool gave up on it and closes its connection")
        phase = .done
    }

    /// Resumes the sender.
    func finish() {
        let continuation = self.continuation
        self.continuation = nil
        continuation?.resume()
    }
}
