public import Tenancy

/// A database handle on one tenant's own database, connected as the tenant's own role.
///
/// Statements run with full SQL and no binding: the database holds only this tenant's data,
/// and the role cannot connect to another tenant's database. The handle stays usable after its
/// pool leaves the cache, because each call looks the pool up again (and reopens it).
public struct PostgresDatabasePerTenantHandle: Sendable, CustomStringConvertible {
    /// The tenant whose database every statement runs in.
    public let tenantID: TenantID
    let databases: PostgresDatabasePerTenant

    /// Runs a statement and returns its rows.
    public func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await withPool { pool in try await pool.query(query.sql, query.arguments) }
    }

    /// Runs a statement and returns the number of rows it changed.
    @discardableResult
    public func execute(_ query: PostgresQuery) async throws -> Int {
        try await withPool { pool in try await pool.execute(query.sql, query.arguments) }
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    @discardableResult
    public func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresDatabasePerTenantTransaction) throws -> Result) async throws -> Result {
        try await withPool { pool in
            try await pool.transaction { connection in
                try body(PostgresDatabasePerTenantTransaction(connection: connection))
            }
        }
    }

    /// The tenant's connection settings without the password.
    public var description: String {
        "PostgresDatabasePerTenantHandle(tenant: \(tenantID), database: \(databases.databaseName(of: tenantID)))"
    }

    /// Runs `body` on the tenant's pool. When the cache closed that pool between the lookup
    /// and the checkout, it runs `body` once more on a reopened pool. Nothing runs twice,
    /// because a closed pool fails at checkout, before any statement is sent.
    private func withPool<Result>(_ body: (PostgresDatabase) async throws -> Result) async throws -> Result {
        let pool = try await databases.pool(for: tenantID)
        do {
            return try await body(pool)
        } catch let error as PostgresError where error.kind == .poolClosed {
            return try await body(try await databases.pool(for: tenantID))
        }
    }
}

/// The statements of one transaction in a tenant's own database; valid only inside
/// ``PostgresDatabasePerTenantHandle/transaction(_:)``'s closure.
///
/// It stores a closure that captures the isolated connection, as ``PostgresTenantTransaction``
/// does, because `assumeIsolated` on the connection fails inside the transaction's body.
public struct PostgresDatabasePerTenantTransaction {
    let run: (PostgresQuery) throws -> PostgresResult

    init(connection: isolated PostgresConnection) {
        run = { query in try connection.run(query.sql, query.arguments) }
    }

    /// Runs a statement and returns its rows.
    public func query(_ query: PostgresQuery) throws -> [PostgresRow] {
        try run(query).rows
    }

    /// Runs a statement and returns the number of rows it changed.
    @discardableResult
    public func execute(_ query: PostgresQuery) throws -> Int {
        try run(query).affectedRows
    }
}
