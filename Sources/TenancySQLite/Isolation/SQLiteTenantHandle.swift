import Foundation
public import Tenancy

/// A database handle bound to one tenant, handed to tenant-scoped code by
/// ``TenantIsolationEnforcer``.
///
/// Every statement passes the lexer check and the authorizer, runs under the statement time
/// limit and the length limit, and sees only the tenant's rows. Reads go to a reader
/// connection; statements that write go to the writer. A statement the guards deny throws
/// ``IsolationError`` and, when the handle has an audit store, writes an audit record with
/// outcome `denied`.
public struct SQLiteTenantHandle: Sendable {
    /// The tenant every statement runs as.
    public let tenantID: TenantID
    let database: SQLiteDatabase
    let runner: TenantStatementRunner
    let audit: (any AuditStore)?

    init(tenantID: TenantID, database: SQLiteDatabase, mode: ConnectionGuard.Mode, timeLimit: Duration, audit: (any AuditStore)?) {
        self.tenantID = tenantID
        self.database = database
        self.runner = TenantStatementRunner(tenantID: tenantID, mode: mode, timeLimit: timeLimit)
        self.audit = audit
    }

    /// Runs a statement and returns its rows; a statement that writes runs on the writer.
    public func query(_ query: SQLiteQuery) async throws -> [SQLiteRow] {
        try await audited {
            let runner = runner
            let outcome = try await database.reader().withConnection { connection in
                try runner.queryOnReader(query, connection: connection)
            }
            switch outcome {
            case .rows(let rows):
                return rows
            case .writes:
                return try await database.writer.withConnection { connection in
                    try runner.query(query, connection: connection)
                }
            }
        }
    }

    /// Runs a statement and decodes each row into `type` (see ``SQLiteRow/decode(_:)``).
    public func query<Row: Decodable>(_ query: SQLiteQuery, as type: Row.Type) async throws -> [Row] {
        try await self.query(query).map { try $0.decode(type) }
    }

    /// Runs a statement on the writer and returns the number of rows it changed, counted
    /// through the protected views' triggers.
    @discardableResult
    public func execute(_ query: SQLiteQuery) async throws -> Int {
        try await audited {
            let runner = runner
            return try await database.writer.withConnection { connection in
                try runner.execute(query, connection: connection)
            }
        }
    }

    /// Runs `body` in a write transaction (`BEGIN IMMEDIATE`) as the tenant: commits when it
    /// returns, rolls back when it throws.
    @discardableResult
    public func transaction<Result: Sendable>(_ body: @escaping @Sendable (SQLiteTenantTransaction) throws -> Result) async throws -> Result {
        try await audited {
            let runner = runner
            return try await database.writer.transaction(.immediate) { connection in
                try body(SQLiteTenantTransaction(connection: connection, runner: runner))
            }
        }
    }

    private func audited<Result>(_ operation: () async throws -> Result) async throws -> Result {
        do {
            return try await operation()
        } catch let error as IsolationError where error.code == .denied {
            if let audit {
                let record = AuditRecord(
                    time: Date().truncatedToMilliseconds, tenantID: tenantID, principalID: currentPrincipal()?.id,
                    action: .isolationDenied, outcome: .denied, detail: error.message)
                _ = try? await audit.append(record)
            }
            throw error
        }
    }
}

/// The statements of one tenant transaction; valid only inside
/// ``SQLiteTenantHandle/transaction(_:)``'s closure.
public struct SQLiteTenantTransaction: Sendable {
    let connection: SQLiteConnection
    let runner: TenantStatementRunner

    /// Runs a statement and returns its rows.
    public func query(_ query: SQLiteQuery) throws -> [SQLiteRow] {
        try connection.assumeIsolated { connection in
            try runner.query(query, connection: connection)
        }
    }

    /// Runs a statement and returns the number of rows it changed.
    @discardableResult
    public func execute(_ query: SQLiteQuery) throws -> Int {
        try connection.assumeIsolated { connection in
            try runner.execute(query, connection: connection)
        }
    }
}

extension AuditAction {
    /// A tenant statement the isolation guards denied.
    public static let isolationDenied: AuditAction = "isolation.statement-denied"
}
