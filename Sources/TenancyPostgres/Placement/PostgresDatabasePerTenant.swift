import Foundation
public import Tenancy
import Synchronization

/// A PostgreSQL database per tenant, reached with that tenant's own role: the silo placement.
///
/// ``place(_:)`` creates the tenant's role and database, lets only that role connect, runs the
/// tenant schema migrations as that role, and stores the connection settings in the registry's
/// `tenancy_tenant_databases` table, which only the owner role can read. A handle runs full SQL
/// in the tenant's database. Other tenants' data is out of reach because the server lets a
/// role connect only to databases where it has `CONNECT`, and each tenant database grants
/// `CONNECT` to its own role alone.
///
/// Placing and purging need an admin connection: a superuser, or a role with `CREATEDB` and
/// `CREATEROLE`. Handles need only the owner role's pool, which reads the settings.
public final class PostgresDatabasePerTenant: TenantDatabaseProvider {
    /// The owner role's pool on the registry database; it reads and writes the placements.
    public let owner: PostgresDatabase
    /// The pool that creates and drops tenant roles and databases, or nil when this process
    /// only serves handles.
    public let admin: PostgresDatabase?
    /// The registry schema that contains the placements table.
    public let schema: PostgresRegistrySchema
    /// The tenant registry, where ``place(_:)`` records each tenant's placement.
    public let manager: TenantManager
    /// The tenant schema, applied in every tenant database as the tenant's role.
    public let migrations: [PostgresMigration]
    /// The schema in each tenant database that the migrations and handles use.
    public let tenantSchema: String
    /// The prefix of every tenant role and database name, as in `tenant_acme`.
    public let namePrefix: String
    /// The server where new tenant databases are created, as tenants will connect to it.
    public let host: String
    public let port: Int
    /// The size of each tenant's pool.
    public let connectionsPerTenant: Int
    /// The maximum number of tenant pools open at once. The least recently used closes first.
    public let maximumOpenPools: Int

    private let open = Mutex<OpenPools>(OpenPools())

    private struct OpenPools {
        var pools: [TenantID: PostgresDatabase] = [:]
        /// Tenant ids from least to most recently used.
        var order: [TenantID] = []
    }

    public var placement: IsolationPlacement { .databasePerTenant }
    public var enforcesRowLevelSecurity: Bool { false }

    /// The longest ``namePrefix`` in bytes: a 48-character tenant id after it must still fit in
    /// PostgreSQL's 63-byte identifiers.
    public static let maximumPrefixLength = PostgresIdentifier.maximumLength - TenantID.maximumLength

    /// Opens the placement and creates the placements table with the owner role when missing.
    ///
    /// - Parameters:
    ///   - owner: the owner role's pool on the registry database.
    ///   - admin: a superuser pool, or one of a role with `CREATEDB` and `CREATEROLE`; needed
    ///     by ``place(_:)`` and ``dropDatabase(of:)`` only.
    ///   - tenantSchema: the schema each tenant database's migrations and handles use.
    ///   - namePrefix: 1 to ``maximumPrefixLength`` bytes of `a-z`, `0-9` and `_`, starting
    ///     with a letter.
    ///   - host: the server tenants connect to; the admin pool's host (else the owner's) by
    ///     default, and the same for `port`.
    /// - Throws: ``ValidationError`` for an invalid prefix, pool size or limit.
    public init(
        owner: PostgresDatabase, schema: PostgresRegistrySchema, manager: TenantManager, migrations: [PostgresMigration],
        admin: PostgresDatabase? = nil, tenantSchema: String = "public", namePrefix: String = "tenant_",
        host: String? = nil, port: Int? = nil, connectionsPerTenant: Int = 2, maximumOpenPools: Int = 64
    ) async throws {
        let prefixCharacters = namePrefix.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
        guard (1...Self.maximumPrefixLength).contains(namePrefix.utf8.count), prefixCharacters,
            let first = namePrefix.utf8.first, (0x61...0x7A).contains(first)
        else {
            throw ValidationError(
                .invalidArgument, field: "namePrefix",
                message: "invalid name prefix '\(namePrefix)': expected 1 to \(Self.maximumPrefixLength) characters of a-z, 0-9 and _, starting with a letter")
        }
        guard connectionsPerTenant >= 1 else {
            throw ValidationError(.invalidArgument, field: "connectionsPerTenant", message: "invalid connectionsPerTenant \(connectionsPerTenant): expected 1 or more")
        }
        guard maximumOpenPools >= 1 else {
            throw ValidationError(.invalidArgument, field: "maximumOpenPools", message: "invalid maximumOpenPools \(maximumOpenPools): expected 1 or more")
        }
        _ = try PostgresIdentifier.quoted(tenantSchema)
        let server = admin?.configuration ?? owner.configuration
        self.owner = owner
        self.admin = admin
        self.schema = schema
        self.manager = manager
        self.migrations = migrations
        self.tenantSchema = tenantSchema
        self.namePrefix = namePrefix
        self.host = host ?? server.host
        self.port = port ?? server.port
        self.connectionsPerTenant = connectionsPerTenant
        self.maximumOpenPools = maximumOpenPools
        try await owner.migrate(component: PostgresTenantDatabaseRegistry.component, schema: schema.name, PostgresTenantDatabaseRegistry.migrations)
    }

    /// Returns the name of the tenant's database and of its role (the two namespaces differ).
    public func databaseName(of tenantID: TenantID) -> String {
        namePrefix + tenantID.rawValue
    }

    /// Returns the stored connection settings of a tenant, or nil when it has no database of
    /// its own. The password inside is never printed.
    public func connectionSettings(of tenantID: TenantID) async throws -> PostgresTenantConnectionSettings? {
        try await PostgresTenantDatabaseRegistry.settings(of: tenantID, in: schema, owner: owner)
    }

    // MARK: - Handles

    /// Returns a handle that runs statements in the tenant's own database as its own role.
    ///
    /// - Throws: ``IsolationError`` with code ``IsolationError/Code/notPlaced`` when the tenant
    ///   is not placed in a database of its own.
    public func handle(for tenant: Tenant) async throws -> PostgresDatabasePerTenantHandle {
        guard tenant.placement == .database(name: databaseName(of: tenant.id)) else {
            throw IsolationError(
                .notPlaced,
                "tenant '\(tenant.id)' has placement \(tenant.placement), not database:\(databaseName(of: tenant.id)); place it with PostgresDatabasePerTenant.place(_:) first")
        }
        _ = try await pool(for: tenant.id)
        return PostgresDatabasePerTenantHandle(tenantID: tenant.id, databases: self)
    }

    /// Returns the tenant's pool, opening it from the stored settings on a cache miss and
    /// closing the least recently used pool when more than ``maximumOpenPools`` are open.
    func pool(for tenantID: TenantID) async throws -> PostgresDatabase {
        if let cached = touch(tenantID) { return cached }
        guard let settings = try await connectionSettings(of: tenantID) else {
            throw IsolationError(
                .notPlaced, "tenant '\(tenantID)' has no database of its own in the registry; place it with PostgresDatabasePerTenant.place(_:) first")
        }
        let created = try PostgresDatabase(settings.configuration(template: owner.configuration), maximumConnections: connectionsPerTenant)
        let (pool, closing) = open.withLock { open -> (PostgresDatabase, [PostgresDatabase]) in
            if let raced = open.pools[tenantID] { return (raced, [created]) }
            open.pools[tenantID] = created
            open.order.append(tenantID)
            var evicted: [PostgresDatabase] = []
            while open.order.count > maximumOpenPools {
                let oldest = open.order.removeFirst()
                if let pool = open.pools.removeValue(forKey: oldest) { evicted.append(pool) }
            }
            return (created, evicted)
        }
        // Closing a pool closes its idle connections now and the ones in use when they return.
        for pool in closing {
            await pool.close()
        }
        return pool
    }

    private func touch(_ tenantID: TenantID) -> PostgresDatabase? {
        open.withLock { open in
            guard let pool = open.pools[tenantID] else { return nil }
            open.order.removeAll { $0 == tenantID }
            open.order.append(tenantID)
            return pool
        }
    }

    /// Removes a tenant's pool from the cache and closes it.
    func closePool(of tenantID: TenantID) async {
        let pool = open.withLock { open -> PostgresDatabase? in
            open.order.removeAll { $0 == tenantID }
            return open.pools.removeValue(forKey: tenantID)
        }
        await pool?.close()
    }

    /// The number of tenant pools open now.
    public var openPoolCount: Int { open.withLock { $0.pools.count } }

    func requireAdmin(operation: String) throws -> PostgresDatabase {
        guard let admin else {
            throw PostgresError(
                .invalidConfiguration, operation: operation,
                message: "\(operation) needs an admin connection: create PostgresDatabasePerTenant with admin: a pool of a superuser or of a role with CREATEDB and CREATEROLE")
        }
        return admin
    }
}

extension IsolationError.Code {
    /// The tenant has no database of its own in the database-per-tenant placement.
    public static let notPlaced = IsolationError.Code("notPlaced")
}
