import Foundation
public import Tenancy

/// The tenant registry in PostgreSQL, shared by every process that connects to the database.
///
/// Updates lock the tenant's row (`SELECT ... FOR UPDATE`) for the read, the change and the
/// write, so concurrent updates from any process apply one after another.
public final class PostgresTenantStore: TenantStore {
    let database: PostgresDatabase
    let schema: PostgresRegistrySchema
    private let selectColumns: String
    private let insertSQL: String

    /// Opens the registry in `schema`, which ``PostgresRegistrySchema/install(owner:applicationRole:)``
    /// must have installed.
    ///
    /// - Parameter database: the pool of the application role.
    public init(database: PostgresDatabase, schema: PostgresRegistrySchema) async throws {
        self.database = database
        self.schema = schema
        selectColumns = """
            id, name, tier, status, status_before_suspension, suspension_reason, config::text AS config, admin_email, \
            time_zone, placement, \(PostgresInstant.column("created_at")), \(PostgresInstant.column("updated_at")), \
            \(PostgresInstant.column("deleted_at")), metadata::text AS metadata
            """
        insertSQL = """
            INSERT INTO \(schema.table("tenancy_tenants")) (id, name, tier, status, status_before_suspension, suspension_reason,
                config, admin_email, time_zone, placement, created_at, updated_at, deleted_at, metadata)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \(PostgresInstant.parameter(11)), \(PostgresInstant.parameter(12)),
                \(PostgresInstant.parameter(13)), $14)
            """
        try await schema.requireInstalled(database)
    }

    public func insert(_ tenant: Tenant) async throws {
        let arguments = try Self.arguments(for: tenant)
        do {
            try await database.execute(insertSQL, arguments)
        } catch let error as PostgresError where error.code == .uniqueViolation {
            throw TenantAlreadyExistsError(tenantID: tenant.id)
        }
    }

    /// Stores many new tenants in one transaction, for imports and benchmarks; the tenants
    /// are stored as given, without the manager's validation, audit records or events.
    ///
    /// - Throws: ``TenantAlreadyExistsError`` when any id is taken; nothing is stored then.
    public func insert(contentsOf tenants: [Tenant]) async throws {
        let rows = try tenants.map { ($0.id, try Self.arguments(for: $0)) }
        try await database.transaction { [insertSQL] connection in
            for (id, arguments) in rows {
                do {
                    try connection.execute(insertSQL, arguments)
                } catch let error as PostgresError where error.code == .uniqueViolation {
                    throw TenantAlreadyExistsError(tenantID: id)
                }
            }
        }
    }

    public func tenant(_ id: TenantID) async throws -> Tenant? {
        let rows = try await database.query(
            "SELECT \(selectColumns) FROM \(schema.table("tenancy_tenants")) WHERE id = $1", [.text(id.rawValue)])
        return try rows.first.map(Self.tenant(from:))
    }

    @discardableResult
    public func update(_ id: TenantID, _ change: @Sendable (Tenant) throws -> Tenant) async throws -> (before: Tenant, after: Tenant) {
        let select = "SELECT \(selectColumns) FROM \(schema.table("tenancy_tenants")) WHERE id = $1 FOR UPDATE"
        let update = """
            UPDATE \(schema.table("tenancy_tenants")) SET name = $2, tier = $3, status = $4, status_before_suspension = $5,
                suspension_reason = $6, config = $7, admin_email = $8, time_zone = $9, placement = $10,
                created_at = \(PostgresInstant.parameter(11)), updated_at = \(PostgresInstant.parameter(12)),
                deleted_at = \(PostgresInstant.parameter(13)), metadata = $14
            WHERE id = $1
            """
        return try await database.transaction { connection in
            let rows = try connection.query(select, [.text(id.rawValue)])
            guard let row = rows.first else { throw TenantNotFoundError(tenantID: id) }
            let before = try Self.tenant(from: row)
            let after = try change(before)
            precondition(after.id == id, "a tenant update must not change the id")
            try connection.execute(update, try Self.arguments(for: after))
            return (before, after)
        }
    }

    public func list(_ query: TenantQuery) async throws -> TenantPage {
        try query.validate()
        var conditions: [String] = []
        var arguments: [PostgresValue] = []
        if let status = query.status {
            arguments.append(.text(status.rawValue))
            conditions.append("status = $\(arguments.count)")
        }
        if let tier = query.tier {
            arguments.append(.text(tier.rawValue))
            conditions.append("tier = $\(arguments.count)")
        }
        if let after = query.after {
            arguments.append(.text(after.rawValue))
            conditions.append("id > $\(arguments.count)")
        }
        arguments.append(.integer(Int64(query.limit + 1)))
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try await database.query(
            "SELECT \(selectColumns) FROM \(schema.table("tenancy_tenants")) \(filter) ORDER BY id LIMIT $\(arguments.count)", arguments)
        let tenants = try rows.prefix(query.limit).map(Self.tenant(from:))
        return TenantPage(tenants: tenants, nextCursor: rows.count > query.limit ? tenants.last?.id : nil)
    }

    // MARK: - Rows

    /// Returns the arguments `$1` to `$14`, in the column order of the insert.
    static func arguments(for tenant: Tenant) throws -> [PostgresValue] {
        [
            .text(tenant.id.rawValue), .text(tenant.name), .text(tenant.tier.rawValue), .text(tenant.status.rawValue),
            tenant.statusBeforeSuspension.map { .text($0.rawValue) } ?? .null,
            tenant.suspensionReason.map { .text($0) } ?? .null,
            .text(try JSONCoding.encode(tenant.config)),
            tenant.adminEmail.map { .text($0) } ?? .null,
            .text(tenant.timeZone), .text(tenant.placement.description),
            .integer(tenant.createdAt.millisecondsSince1970), .integer(tenant.updatedAt.millisecondsSince1970),
            tenant.deletedAt.map { .integer($0.millisecondsSince1970) } ?? .null,
            .text(try JSONCoding.encode(tenant.metadata)),
        ]
    }

    static func tenant(from row: PostgresRow) throws -> Tenant {
        let id = try TenantID(validating: row.text("id"))
        func decodeFailure(_ column: String) -> PostgresError {
            PostgresError(.decoding, operation: "decode", message: "tenant '\(id)' has an invalid \(column) value")
        }
        guard let tier = TenantTier(rawValue: try row.text("tier")) else { throw decodeFailure("tier") }
        guard let status = TenantStatus(rawValue: try row.text("status")) else { throw decodeFailure("status") }
        guard let placement = TenantPlacement(try row.text("placement")) else { throw decodeFailure("placement") }
        var tenant = Tenant(
            id: id, name: try row.text("name"), tier: tier, status: status,
            config: try JSONCoding.decode(TenantConfig.self, from: row.text("config")),
            adminEmail: try row.optionalText("admin_email"), timeZone: try row.text("time_zone"), placement: placement,
            createdAt: Date(millisecondsSince1970: try row.integer("created_at")),
            updatedAt: Date(millisecondsSince1970: try row.integer("updated_at")),
            metadata: try JSONCoding.decode([String: String].self, from: row.text("metadata")))
        if let before = try row.optionalText("status_before_suspension") {
            guard let previous = TenantStatus(rawValue: before) else { throw decodeFailure("status_before_suspension") }
            tenant.statusBeforeSuspension = previous
        }
        tenant.suspensionReason = try row.optionalText("suspension_reason")
        tenant.deletedAt = try row.optionalInteger("deleted_at").map(Date.init(millisecondsSince1970:))
        return tenant
    }
}
