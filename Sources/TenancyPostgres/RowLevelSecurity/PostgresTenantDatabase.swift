import Foundation
public import Tenancy

/// Pooled tenant tables in PostgreSQL, isolated by row-level security.
///
/// Every statement through a handle goes out in one pipeline behind the tenant binding (see
/// ``PostgresTenantBinding``): both form one implicit transaction and take one round trip.
/// The binding is set with `set_config(..., true)`, so it ends with the transaction and a
/// pooled connection never carries a tenant into its next use. It sets the tenant and the
/// tag every time, so nothing earlier SQL left in the session (`SET`, `set_config(..., false)`)
/// is ever used.
///
/// With the verified binding, tenant SQL that copies its settings into the session
/// (`set_config(..., false)`) binds no later transaction: the binding also records the
/// transaction's start time, which the check compares with its own.
///
/// Tenant SQL can also change the session beyond its transaction: settings such as
/// `client_encoding` or `search_path`, session advisory locks and `SET ROLE`. So with the
/// verified binding, after every tenant statement and in the same round trip, the pool runs
/// ``sessionReset(seed:)``, and closes the connection when that fails. The trusted binding skips it,
/// because there every statement is trusted code, which could bind any tenant anyway.
///
/// With the C check (``PostgresBindingCheck/library``) the binding statement is
/// `bind_tenant($1, $2, $3)`. The database checks the tag there and keeps the tenant in the
/// backend's memory rather than in settings. It resets the session itself when the transaction
/// ends, so the pool sends no ``sessionReset(seed:)``. ``bindingCheck`` names the check the
/// database runs.
///
/// NOTE: ``sessionReset(seed:)`` leaves `LISTEN`, prepared statements and `WITH HOLD` cursors that
/// tenant SQL creates on the connection. Later tenants meet them only by naming them. The C
/// check rejects these commands, and `ALTER ROLE`, in tenant transactions.
///
/// Opening runs the start-up check: it refuses to run when the application role could
/// bypass the policies or when the binding does not verify (see ``checkApplicationRole()``).
/// With a maintenance pool it also checks that role, for platform-wide reads through
/// ``platformQuery(_:)``.
public final class PostgresTenantDatabase: TenantDatabaseProvider {
    /// The application role's pool; use it for tenant handles only.
    public let database: PostgresDatabase
    /// The binding mode of every statement.
    public let binding: PostgresTenantBinding
    /// The schema with the policies' function and the tenant table list.
    public let rowLevelSecurity: PostgresRowLevelSecurity
    /// The maintenance role's pool for ``platformQuery(_:)``, or nil when platform-wide reads
    /// are not configured.
    public let maintenance: PostgresDatabase?

    public var placement: IsolationPlacement { .pool }
    public var enforcesRowLevelSecurity: Bool { true }

    /// Opens the tenant tables over the application role's pool and runs the start-up check.
    ///
    /// - Parameters:
    ///   - binding: ``PostgresTenantBinding/verified(_:)`` with the secret from configuration
    ///     (``PostgresBindingSecret/fromEnvironment(_:)``), unless every statement is trusted
    ///     code.
    ///   - maintenance: a pool connected as the `BYPASSRLS` maintenance role, for
    ///     ``platformQuery(_:)``; nil leaves platform-wide reads off. Its role is checked here:
    ///     it needs `BYPASSRLS`, and neither it nor a role it can become may be superuser or
    ///     change a protected table.
    /// - Throws: ``IsolationError`` with code ``IsolationError/Code/unsafeRole``,
    ///   ``IsolationError/Code/bindingMismatch`` or
    ///   ``IsolationError/Code/invalidMaintenanceRole`` naming the problem and the fix.
    public init(
        _ database: PostgresDatabase, binding: PostgresTenantBinding, rowLevelSecurity: PostgresRowLevelSecurity = .standard,
        maintenance: PostgresDatabase? = nil
    ) async throws {
        let check = try await Self.checkApplicationRole(database: database, binding: binding, rowLevelSecurity: rowLevelSecurity)
        self.bindingCheck = check
        self.bindingStatement = PostgresBindingStatement(
            binding, check: check, quotedSchema: rowLevelSecurity.quotedSchema, timeLimit: database.configuration.statementTimeLimit)
        self.resetsSession = check == .plpgsql
        self.database = database
        self.binding = binding
        self.rowLevelSecurity = rowLevelSecurity
        self.maintenance = maintenance
        if let maintenance {
            try await checkMaintenanceRole(maintenance)
        }
    }

    /// Returns a handle bound to `tenant`.
    public func handle(for tenant: Tenant) async throws -> PostgresTenantHandle {
        handle(forID: tenant.id)
    }

    /// Returns a handle bound to a tenant id, for the library's own per-tenant work (purge,
    /// probes), which runs whatever the tenant's status.
    func handle(forID tenantID: TenantID) -> PostgresTenantHandle {
        PostgresTenantHandle(tenantID: tenantID, database: database, bindingStatement: bindingStatement, resetsSession: resetsSession)
    }

    /// The check the database runs for every tenant statement, found at start-up.
    public let bindingCheck: PostgresBindingCheck
    /// The binding statement for ``bindingCheck``.
    let bindingStatement: PostgresBindingStatement
    /// The binding statement's SQL.
    var bindSQL: String { bindingStatement.sql }
    /// With the C check, the time after which the database ends a tenant transaction's backend.
    var endsAfterMilliseconds: Int64? { bindingStatement.endsAfterMilliseconds }
    /// Whether the pool resets the session after each tenant statement: with the PL/pgSQL check.
    let resetsSession: Bool

    /// ``sessionReset(seed:)`` with the PL/pgSQL check and a new seed, else nothing.
    var sessionResetStatements: [PostgresStatement] {
        resetsSession ? Self.sessionReset() : []
    }

    /// Runs a statement with no tenant bound: the policies show it no rows and reject its
    /// writes. For checks that the database fails closed.
    public func queryWithoutTenant(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await database.pipeline([bindingStatement.statement(tenant: nil), query.statement], sessionReset: sessionResetStatements)[1].rows
    }

    /// Returns the statements that undo, after each tenant statement, what it left on the
    /// pooled session:
    /// - every setting made with `SET` or `set_config(..., false)` (`RESET ALL`);
    /// - `SET ROLE`, which `RESET ALL` skips, and session advisory locks;
    /// - the sequence values that `lastval()` and `currval()` return (`DISCARD SEQUENCES`);
    /// - the seed of `random()`. After `setseed()` the next tenant's values could be predicted,
    ///   so each reset sets `seed`, by default from this process's random source.
    ///
    /// Without them, seen on PostgreSQL 15.18, one tenant's `SET client_encoding = 'LATIN1'`
    /// made the next tenant's `café` arrive as `cafÃ©`, and a session lock on the installers'
    /// key would have blocked every later migration. Like every pooled statement, they are
    /// prepared once per connection where the role cannot list prepared statements. Where it
    /// can, they go unnamed, because SQL that could name them could replace them.
    static func sessionReset(seed: Double = Double.random(in: -1...1)) -> [PostgresStatement] {
        [
            PostgresStatement("RESET ALL"),
            PostgresStatement(
                "SELECT pg_catalog.pg_advisory_unlock_all(), pg_catalog.set_config('role', 'none', false), pg_catalog.setseed($1)",
                [.double(seed)]),
            PostgresStatement("DISCARD SEQUENCES"),
        ]
    }
}

/// A database handle bound to one tenant, handed to tenant-scoped code by
/// `TenantIsolationEnforcer`.
public struct PostgresTenantHandle: Sendable {
    /// The tenant every statement runs as.
    public let tenantID: TenantID
    let database: PostgresDatabase
    /// The binding statement of the database's check; see ``PostgresTenantDatabase/bindingCheck``.
    let bindingStatement: PostgresBindingStatement
    /// Whether the pool runs ``PostgresTenantDatabase/sessionReset(seed:)`` after each statement.
    var resetsSession = false

    private var sessionReset: [PostgresStatement] {
        resetsSession ? PostgresTenantDatabase.sessionReset() : []
    }

    /// Runs a statement as the tenant and returns its rows.
    public func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await run(query).rows
    }

    /// Runs a statement as the tenant and returns the number of rows it changed.
    @discardableResult
    public func execute(_ query: PostgresQuery) async throws -> Int {
        try await run(query).affectedRows
    }

    /// Sends the binding and the statement in one pipeline and returns the statement's result.
    func run(_ query: PostgresQuery) async throws -> PostgresResult {
        let results = try await database.pipeline([bindingStatement.statement(tenant: tenantID), query.statement], sessionReset: sessionReset)
        return results[1]
    }

    /// Runs `body` in a transaction as the tenant: commits when it returns, rolls back when it
    /// throws.
    ///
    /// The binding is computed once, when the transaction starts, and sent again in front of
    /// every statement (same round trip), so SQL in the transaction that resets the settings
    /// (`RESET ALL`, `set_config`) affects at most its own statement. `now()` stays at the
    /// transaction's start, so the tag's minute does too. After the commit or rollback the
    /// connection runs ``PostgresTenantDatabase/sessionReset(seed:)`` (with the C check the database
    /// resets the session itself as the transaction ends).
    @discardableResult
    public func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresTenantTransaction) throws -> Result) async throws -> Result {
        let bind = bindingStatement.statement(tenant: tenantID)
        let sessionReset = self.sessionReset
        return try await database.withConnection { connection in
            defer {
                if !sessionReset.isEmpty { connection.resetSession(sessionReset) }
            }
            return try connection.inTransaction {
                try body(PostgresTenantTransaction(connection: connection, binding: bind))
            }
        }
    }
}

/// The statements of one tenant transaction; valid only inside
/// ``PostgresTenantHandle/transaction(_:)``'s closure.
///
/// It stores closures that capture the connection inside the transaction's isolated closure,
/// instead of calling `assumeIsolated` on the connection: that check fails there, because the
/// body runs off the connection's queue (see ``PostgresConnection/transaction(_:)``).
public struct PostgresTenantTransaction {
    let runBound: (PostgresQuery) throws -> PostgresResult
    let runUnbound: (PostgresQuery) throws -> PostgresResult

    init(connection: isolated PostgresConnection, binding: PostgresStatement) {
        runBound = { query in try connection.pipeline([binding, query.statement])[1] }
        runUnbound = { query in try connection.run(query.sql, query.arguments) }
    }

    /// Runs a statement as the tenant and returns its rows.
    public func query(_ query: PostgresQuery) throws -> [PostgresRow] {
        try runBound(query).rows
    }

    /// Runs a statement as the tenant and returns the number of rows it changed.
    @discardableResult
    public func execute(_ query: PostgresQuery) throws -> Int {
        try runBound(query).affectedRows
    }

    /// Runs a statement without sending the binding again, so it sees whatever earlier
    /// statements of the transaction left in the settings. For probes of forged bindings.
    func queryWithoutRebinding(_ query: PostgresQuery) throws -> [PostgresRow] {
        try runUnbound(query).rows
    }
}

extension IsolationError.Code {
    /// The application role could bypass row-level security: it owns a tenant table or the
    /// library's schema, is superuser, has `BYPASSRLS`, can read or change the binding
    /// secret, or is a member of a role that can.
    public static let unsafeRole = IsolationError.Code("unsafeRole")
    /// The binding the application uses does not verify in the database: a different secret,
    /// a different binding mode, a clock more than a minute off, or no installed check.
    public static let bindingMismatch = IsolationError.Code("bindingMismatch")
    /// The maintenance role cannot serve platform-wide reads: it has no `BYPASSRLS`, is
    /// superuser or may change a tenant table (itself or through a role it is a member of),
    /// or is connected to another database than the application role.
    public static let invalidMaintenanceRole = IsolationError.Code("invalidMaintenanceRole")
}
