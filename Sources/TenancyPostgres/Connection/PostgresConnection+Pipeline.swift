internal import CLibPQ

extension PostgresConnection {
    /// Sends every statement, then one Sync, and reads every result: one round trip.
    ///
    /// Outside a transaction block the statements before the Sync form one implicit
    /// transaction, so they commit together or not at all: when one fails, the server skips
    /// the rest and rolls back. This is how a statement can run with a tenant binding set by
    /// the statement before it, in the same transaction and without a second round trip.
    /// Inside ``transaction(_:)`` they join that transaction instead.
    ///
    /// The time limit covers the whole pipeline.
    ///
    /// - Returns: one result per statement, in order.
    /// - Throws: the first statement's error when one fails (the later ones are not run).
    public func pipeline(_ statements: [PostgresStatement]) throws -> [PostgresResult] {
        guard !statements.isEmpty else { return [] }
        let handle = try handle(for: "pipeline")
        let sql = statements.map(\.sql).joined(separator: "; ")
        return try withStatementControl(operation: "pipeline", sql: sql) {
            guard PQenterPipelineMode(handle) == 1 else {
                throw PostgresError(
                    .protocolViolation, operation: "pipeline",
                    message: "libpq could not enter pipeline mode: \(Self.errorMessage(handle))")
            }
            defer { PQexitPipelineMode(handle) }

            for statement in statements {
                let sent = try withParameters(statement.arguments, sql: statement.sql) { count, types, values in
                    PQsendQueryParams(handle, statement.sql, count, types, values, nil, nil, 0)
                }
                guard sent == 1 else { throw connectionError(operation: "pipeline", sql: statement.sql) }
            }
            guard PQpipelineSync(handle) == 1 else { throw connectionError(operation: "pipeline", sql: sql) }
            return try readPipelineResults(handle, statements)
        }
    }

    /// Reads one result per statement and then the Sync's, keeping the first error.
    ///
    /// Each statement's results end with a NULL from `PQgetResult`; the Sync's
    /// `PGRES_PIPELINE_SYNC` result has no NULL after it. Everything up to and including it is
    /// read even after an error, so the connection is left idle and usable.
    private func readPipelineResults(_ handle: OpaquePointer, _ statements: [PostgresStatement]) throws -> [PostgresResult] {
        var results: [PostgresResult] = []
        var firstError: (any Error)?
        for statement in statements {
            guard let result = PQgetResult(handle) else {
                throw connectionError(operation: "pipeline", sql: statement.sql)
            }
            if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                PQclear(result)
            } else if PollOperation.isCopy(PQresultStatus(result)) {
                // libpq returns the COPY status from every later PQgetResult, so reading further
                // would never end. The connection stays inside the COPY and is unusable, so
                // the pool closes it.
                PQclear(result)
                throw Self.copyNotSupported(sql: statement.sql)
            } else {
                do {
                    results.append(try consume(result, operation: "pipeline", sql: statement.sql))
                } catch {
                    firstError = firstError ?? error
                }
            }
            while let extra = PQgetResult(handle) {
                let status = PQresultStatus(extra)
                PQclear(extra)
                if PollOperation.isCopy(status) {
                    throw Self.copyNotSupported(sql: statement.sql)
                }
            }
        }
        guard let sync = PQgetResult(handle) else {
            throw connectionError(operation: "pipeline", sql: nil)
        }
        let syncStatus = PQresultStatus(sync)
        PQclear(sync)
        if let firstError { throw firstError }
        guard syncStatus == PGRES_PIPELINE_SYNC else {
            throw PostgresError(
                .protocolViolation, operation: "pipeline",
                message: "expected the pipeline's Sync result, got \(String(cString: PQresStatus(syncStatus)))")
        }
        return results
    }
}
