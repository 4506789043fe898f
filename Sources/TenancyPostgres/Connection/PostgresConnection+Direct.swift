internal import CLibPQ
import Dispatch

extension PostgresConnection {
    /// The outcome of ``sendAndAwait(_:sessionReset:)``.
    enum DirectOutcome: Sendable {
        /// The connection was broken or inside a transaction before anything was sent.
        case broken
        /// The pipeline ran, and `reusable` is whether the connection may go back to the pool.
        case finished(Result<[PostgresResult], any Error>, reusable: Bool)
    }

    /// Sends a pipeline without blocking, from the calling task's thread, and waits for its
    /// results on ``PostgresPoller``, without a hop to the connection's queue.
    ///
    /// Only for a connection the pool checked out for this one call: nothing else may use the
    /// connection until this returns, so the actor's queue is not needed to keep libpq calls
    /// one at a time. The results are the same as ``pipeline(_:)``'s outside a transaction:
    /// the statements form one implicit transaction, and the first error is thrown. Task
    /// cancellation and the time limit cancel the pipeline with `PQcancel`.
    ///
    /// `sessionReset` statements go after the pipeline's Sync, with a Sync of their own, in the
    /// same round trip. So they run whether the statements succeeded or failed, and their
    /// results only decide whether the connection may be reused.
    nonisolated func sendAndAwait(_ statements: [PostgresStatement], sessionReset: [PostgresStatement] = []) async -> DirectOutcome {
        guard Self.isReusable(box), let handle = box.handle else { return .broken }
        let callState = CallState()
        let canceller = self.canceller
        let (outcome, sessionWasReset) = await withTaskCancellationHandler {
            await runDirect(handle, statements, sessionReset, callState)
        } onCancel: {
            if let call = callState.cancel() {
                canceller.cancelCall(call)
            }
        }
        // A pipeline that ended early (a COPY, a connection failure) can leave libpq in
        // pipeline mode with results still queued; such a connection is closed.
        let reusable = PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
            && PQpipelineStatus(handle) == PQ_PIPELINE_OFF && sessionWasReset
        return .finished(outcome, reusable: reusable)
    }

    /// Runs the pipeline as one call and returns its outcome and whether every
    /// `sessionReset` statement succeeded (true when there are none).
    private nonisolated func runDirect(
        _ handle: OpaquePointer, _ statements: [PostgresStatement], _ sessionReset: [PostgresStatement], _ callState: CallState
    ) async -> (Result<[PostgresResult], any Error>, sessionWasReset: Bool) {
        let sql = statements.count == 1 ? statements[0].sql : statements.map(\.sql).joined(separator: "; ")
        let call = canceller.beginCall()
        guard callState.start(call), !Task.isCancelled else { return (.failure(CancellationError()), true) }
        let statement: UInt64
        do {
            statement = try canceller.beginStatement()
        } catch {
            return (.failure(error), true)
        }
        let (outcome, sessionWasReset) = await sendAndRead(handle, statements, sessionReset, statement: statement, sql: sql)
        let reason = canceller.endStatement()
        return (explainCancellation(outcome, reason: reason, operation: "pipeline", sql: sql), sessionWasReset)
    }

    private nonisolated func sendAndRead(
        _ handle: OpaquePointer, _ statements: [PostgresStatement], _ sessionReset: [PostgresStatement], statement: UInt64, sql: String
    ) async -> (Result<[PostgresResult], any Error>, sessionWasReset: Bool) {
        // Nothing was sent when these fail, so the session has nothing to reset.
        guard PQsetnonblocking(handle, 1) == 0 else {
            return (.failure(connectionError(operation: "pipeline", sql: sql)), true)
        }
        defer { PQsetnonblocking(handle, 0) }
        guard PQenterPipelineMode(handle) == 1 else {
            let error = PostgresError(
                .protocolViolation, operation: "pipeline",
                message: "libpq could not enter pipeline mode: \(Self.errorMessage(handle))")
            return (.failure(error), true)
        }
        defer { PQexitPipelineMode(handle) }

        let all = statements + sessionReset
        let steps = plan(all)
        // The statements' steps, then a Sync, then the reset's steps and their Sync.
        let statementSteps = steps.firstIndex { $0.statement >= statements.count } ?? steps.count
        let flushed: Int32
        do {
            for (index, step) in steps.enumerated() {
                if index == statementSteps {
                    guard PQpipelineSync(handle) == 1 else { throw connectionError(operation: "pipeline", sql: sql) }
                }
                let statement = all[step.statement]
                let sent: Int32
                switch step.kind {
                case .prepare(let name):
                    let types = statement.arguments.map(\.typeOID)
                    sent = types.withUnsafeBufferPointer { typeBuffer in
                        PQsendPrepare(handle, name, statement.sql, Int32(types.count), typeBuffer.baseAddress)
                    }
                case .executePrepared(let name):
                    sent = try withParameters(statement.arguments, sql: statement.sql) { count, _, values in
                        PQsendQueryPrepared(handle, name, count, values, nil, nil, 0)
                    }
                case .execute:
                    sent = try withParameters(statement.arguments, sql: statement.sql) { count, types, values in
                        PQsendQueryParams(handle, statement.sql, count, types, values, nil, nil, 0)
                    }
                }
                guard sent == 1 else { throw connectionError(operation: "pipeline", sql: statement.sql) }
            }
            guard PQpipelineSync(handle) == 1 else { throw connectionError(operation: "pipeline", sql: sql) }
            flushed = PQflush(handle)
            guard flushed >= 0 else { throw connectionError(operation: "pipeline", sql: sql) }
        } catch {
            // A statement may have gone out without its Sync; the connection is not reused.
            return (.failure(error), false)
        }

        let deadline = configuration.statementTimeLimit.map { DispatchTime.now() + $0.dispatchInterval }
        let syncPositions = statementSteps < steps.count ? [statementSteps, steps.count] : [steps.count]
        // After the cancel request at the limit, the poller waits as long again, at least a
        // second, before it gives up on a statement that caught the cancel.
        let grace = configuration.statementTimeLimit.map { max($0, .seconds(1)).dispatchInterval } ?? .seconds(1)
        let operation = PollOperation(
            handle: handle, socket: PQsocket(handle), canceller: canceller, statement: statement,
            deadline: deadline, syncPositions: syncPositions, needsWrite: flushed == 1, grace: grace)
        // While a large send waited for room in the socket, libpq may have read the reply
        // already. Epoll reports only data still on the socket, so check the buffer first.
        let finishedEarly = !operation.needsWrite && PQisBusy(handle) == 0 && operation.advance()
        if !finishedEarly {
            await withCheckedContinuation { continuation in
                operation.continuation = continuation
                if !PostgresPoller.shared.register(operation) {
                    operation.fail(reason: "epoll could not wait on the socket")
                    operation.finish()
                }
            }
        }
        let sessionWasReset = checkSessionReset(operation, steps, all, statementSteps: statementSteps)
        return (Result { try collect(operation, steps.prefix(statementSteps), statements, sql: sql) }, sessionWasReset)
    }

    /// Returns whether every reset step after `statementSteps` succeeded and its Sync arrived,
    /// records the reset statements it prepared, and frees those results.
    ///
    /// After SQL on the connection ran `DEALLOCATE ALL`, a reset statement prepared earlier
    /// fails with `invalid_sql_statement_name`. The session was then not reset, so the
    /// connection is closed.
    private nonisolated func checkSessionReset(
        _ operation: PollOperation, _ steps: [Step], _ all: [PostgresStatement], statementSteps: Int
    ) -> Bool {
        var succeeded = operation.failure == nil
        for (index, raw) in operation.results.enumerated().dropFirst(statementSteps) {
            let status = PQresultStatus(raw)
            let stepSucceeded = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
            if stepSucceeded, case .prepare(let name) = steps[index].kind {
                box.preparedNames[PreparedKey(all[steps[index].statement])] = name
            }
            succeeded = succeeded && stepSucceeded
            PQclear(raw)
        }
        guard statementSteps < steps.count else { return succeeded }
        return succeeded && operation.results.count == steps.count && operation.syncStatuses.count == 2
            && operation.syncStatuses[1] == PGRES_PIPELINE_SYNC
    }

    /// One message group of the pipeline, each giving one result.
    struct Step {
        enum Kind {
            /// Parse under a per-connection name (`PQsendPrepare`).
            case prepare(String)
            /// Bind and execute the statement prepared under the name.
            case executePrepared(String)
            /// Parse, bind and execute an unnamed statement (`PQsendQueryParams`).
            case execute
        }

        let kind: Kind
        /// The index of the statement in the pipeline.
        let statement: Int
    }

    /// Returns the steps for `statements`: each statement is prepared the first time this
    /// connection sends it, under a random name, and executed by that name from then on, until
    /// the connection holds ``PostgresConfiguration/preparedStatementCacheSize`` of them; later
    /// new statements go unnamed.
    ///
    /// The name is random (128 bits) because any SQL on the connection may run `PREPARE` and
    /// `DEALLOCATE`: SQL that could name a statement could replace it with its own, which the
    /// next caller, perhaps bound to another tenant, would run. For the same reason
    /// ``PostgresConnection/connect(_:)`` turns the cache off when the role can list the
    /// session's prepared statements.
    ///
    /// Names are recorded only once the server confirms them, so the statements this pipeline
    /// prepares count against the size here. A statement that appears again in the same
    /// pipeline goes unnamed, because a second prepare would leave an unused statement on the
    /// server, and executing the first name would fail when its prepare was skipped.
    private nonisolated func plan(_ statements: [PostgresStatement]) -> [Step] {
        var steps: [Step] = []
        steps.reserveCapacity(statements.count + 1)
        var preparing: Set<PreparedKey> = []
        for (index, statement) in statements.enumerated() {
            guard box.preparedCapacity > 0 else {
                steps.append(Step(kind: .execute, statement: index))
                continue
            }
            let key = PreparedKey(statement)
            if let name = box.preparedNames[key] {
                steps.append(Step(kind: .executePrepared(name), statement: index))
            } else if !preparing.contains(key), box.preparedNames.count + preparing.count < box.preparedCapacity {
                preparing.insert(key)
                var generator = SystemRandomNumberGenerator()
                let name = "tenancy_" + String(generator.next(), radix: 16) + "_" + String(generator.next(), radix: 16)
                steps.append(Step(kind: .prepare(name), statement: index))
                steps.append(Step(kind: .executePrepared(name), statement: index))
            } else {
                steps.append(Step(kind: .execute, statement: index))
            }
        }
        return steps
    }

    /// Converts the raw results the poller read, keeping the first error, as
    /// ``pipeline(_:)`` does, and records the statements it prepared.
    ///
    /// When a statement prepared earlier is gone (`invalid_sql_statement_name`, after SQL on
    /// the connection ran `DEALLOCATE ALL` or `DISCARD ALL`), every name is forgotten so the
    /// next call prepares again.
    private nonisolated func collect(
        _ operation: PollOperation, _ steps: ArraySlice<Step>, _ statements: [PostgresStatement], sql: String
    ) throws -> [PostgresResult] {
        var results: [PostgresResult] = []
        results.reserveCapacity(statements.count)
        var firstError: (any Error)?
        for (index, raw) in operation.results.prefix(steps.count).enumerated() {
            let step = steps[index]
            let statementSQL = statements[step.statement].sql
            if PQresultStatus(raw) == PGRES_PIPELINE_ABORTED {
                PQclear(raw)
                continue
            }
            do {
                let result = try consume(raw, operation: "pipeline", sql: statementSQL)
                switch step.kind {
                case .prepare(let name):
                    box.preparedNames[PreparedKey(statements[step.statement])] = name
                case .executePrepared, .execute:
                    results.append(result)
                }
            } catch let error as PostgresError where Self.isStalePrepared(error) {
                box.preparedNames = [:]
                // The statement failed before it ran. The ones before it are the library's
                // own and changed nothing outside the transaction, which the error rolled
                // back, so the pipeline can be sent again.
                if case .executePrepared = step.kind, statements[..<step.statement].allSatisfy(\.repeatable) {
                    firstError = firstError ?? PreparedStatementMissing(error: error)
                } else {
                    firstError = firstError ?? error
                }
            } catch {
                firstError = firstError ?? error
            }
        }
        // A failure after the statements' Sync arrived broke only the session reset.
        if let failure = operation.failure, operation.syncStatuses.isEmpty {
            throw firstError ?? failure
        }
        if let firstError { throw firstError }
        guard let syncStatus = operation.syncStatuses.first, syncStatus == PGRES_PIPELINE_SYNC else {
            let status = operation.syncStatuses.first.map { String(cString: PQresStatus($0)) } ?? "none"
            throw PostgresError(.protocolViolation, operation: "pipeline", message: "expected the pipeline's Sync result, got \(status)")
        }
        return results
    }
}

extension PostgresConnection {
    /// Returns whether `error` means a statement prepared on the connection can no longer run:
    /// SQL deallocated it (`DEALLOCATE ALL`, `DISCARD ALL`), or a schema change altered its
    /// result columns ("cached plan must not change result type").
    ///
    /// NOTE: after a schema change the old statement stays on the server under its name until
    /// the connection closes, while the cache drops the name and prepares the statement again.
    nonisolated static func isStalePrepared(_ error: PostgresError) -> Bool {
        error.code == .invalidSQLStatementName
            || (error.code == .featureNotSupported && error.serverMessage?.contains("cached plan must not change result type") == true)
    }
}

/// A statement's SQL and parameter types, under which a connection keeps its prepared name:
/// the types are fixed when the statement is prepared.
struct PreparedKey: Hashable {
    let sql: String
    let types: [UInt32]

    init(_ statement: PostgresStatement) {
        sql = statement.sql
        types = statement.arguments.map(\.typeOID)
    }
}

/// A statement the direct path prepared earlier on the connection is gone; the pool sends the
/// pipeline again once, preparing it anew.
struct PreparedStatementMissing: Error {
    let error: PostgresError
}
