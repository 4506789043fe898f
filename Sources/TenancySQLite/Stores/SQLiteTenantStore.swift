import Foundation
public import Tenancy

/// The tenant registry in an SQLite file, shared by every process that opens the file.
public final class SQLiteTenantStore: TenantStore {
    let database: SQLiteDatabase

    /// Opens the registry in `database`, creating or migrating its tables.
    public init(database: SQLiteDatabase) async throws {
        self.database = database
        try await SQLiteRegistrySchema.migrate(database)
    }

    static let columns = """
        id, name, tier, status, status_before_suspension, suspension_reason, config, admin_email, \
        time_zone, placement, created_at, updated_at, deleted_at, metadata
        """

    public func insert(_ tenant: Tenant) async throws {
        let arguments = try Self.arguments(for: tenant)
        do {
            try await database.write { connection in
                try connection.execute(
                    "INSERT INTO tenancy_tenants (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arguments)
            }
        } catch let error as SQLiteError where error.code == .constraintPrimaryKey {
            throw TenantAlreadyExistsError(tenantID: tenant.id)
        }
    }

    /// Stores many new tenants in one transaction, for imports and benchmarks; the tenants
    /// are stored as given, without the manager's validation, audit records or events.
    ///
    /// - Throws: ``TenantAlreadyExistsError`` when any id is taken; nothing is stored then.
    public func insert(contentsOf tenants: [Tenant]) async throws {
        let rows = try tenants.map { ($0.id, try Self.arguments(for: $0)) }
        try await database.write { connection in
            for (id, arguments) in rows {
                do {
                    try connection.execute(
                        "INSERT INTO tenancy_tenants (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arguments)
                } catch let error as SQLiteError where error.code == .constraintPrimaryKey {
                    throw TenantAlreadyExistsError(tenantID: id)
                }
            }
        }
    }

    public func tenant(_ id: TenantID) async throws -> Tenant? {
        let rows = try await database.read { connection in
            try connection.query("SELECT \(Self.columns) FROM tenancy_tenants WHERE id = ?", [.text(id.rawValue)])
        }
        return try rows.first.map(Self.tenant(from:))
    }

    @discardableResult
    public func update(_ id: TenantID, _ change: @Sendable (Tenant) throws -> Tenant) async throws -> (before: Tenant, after: Tenant) {
        try await database.write { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM tenancy_tenants WHERE id = ?", [.text(id.rawValue)])
            guard let row = rows.first else { throw TenantNotFoundError(tenantID: id) }
            let before = try Self.tenant(from: row)
            let after = try change(before)
            precondition(after.id == id, "a tenant update must not change the id")
            var arguments = try Self.arguments(for: after)
            arguments.append(arguments.removeFirst())
            try connection.execute(
                """
                UPDATE tenancy_tenants SET name = ?, tier = ?, status = ?, status_before_suspension = ?,
                    suspension_reason = ?, config = ?, admin_email = ?, time_zone = ?, placement = ?,
                    created_at = ?, updated_at = ?, deleted_at = ?, metadata = ?
                WHERE id = ?
                """, arguments)
            return (before, after)
        }
    }

    public func list(_ query: TenantQuery) async throws -> TenantPage {
        try query.validate()
        var conditions: [String] = []
        var arguments: [SQLiteValue] = []
        if let status = query.status {
            conditions.append("status = ?")
            arguments.append(.text(status.rawValue))
        }
        if let tier = query.tier {
            conditions.append("tier = ?")
            arguments.append(.text(tier.rawValue))
        }
        if let after = query.after {
            conditions.append("id > ?")
            arguments.append(.text(after.rawValue))
        }
        arguments.append(.integer(Int64(query.limit + 1)))
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT \(Self.columns) FROM tenancy_tenants \(filter) ORDER BY id LIMIT ?"
        let rows = try await database.read { [arguments] connection in
            try connection.query(sql, arguments)
        }
        let tenants = try rows.prefix(query.limit).map(Self.tenant(from:))
        return TenantPage(tenants: tenants, nextCursor: rows.count > query.limit ? tenants.last?.id : nil)
    }

    // MARK: - Rows

    static func arguments(for tenant: Tenant) throws -> [SQLiteValue] {
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

    static func tenant(from row: SQLiteRow) throws -> Tenant {
        let id = try TenantID(validating: row.text("id"))
        func decodeFailure(_ column: String) -> SQLiteError {
            SQLiteError(code: .mismatch, message: "tenant '\(id)' has an invalid \(column) value", operation: "decode")
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

/// JSON for the columns that hold structured values, with sorted keys so equal values store
/// equal text.
enum JSONCoding {
    static func encode<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from text: String) throws -> Value {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(type, from: Data(text.utf8))
    }
}
