import Foundation
public import Tenancy
internal import CLibPQ

extension PostgresDatabasePerTenant {
    /// Creates the tenant's role and database, runs the tenant migrations there as that role,
    /// and records the placement; returns the tenant with placement `database:NAME`.
    ///
    /// Every step is safe to repeat, so calling it again after a failure finishes the work:
    /// 1. Store the settings with a new random password. A repeat keeps the stored one.
    /// 2. Create the role with `LOGIN` and none of `SUPERUSER`, `CREATEDB`, `CREATEROLE`,
    ///    `REPLICATION` or `BYPASSRLS`. libpq computes its SCRAM-SHA-256 verifier on the
    ///    client, so the password itself never reaches the server.
    /// 3. Create the database from `template0`, revoke all its privileges from `PUBLIC`, and
    ///    grant `CONNECT`, `CREATE` and `TEMPORARY` to the role, which also gets `public`.
    /// 4. Run ``migrations`` as the role.
    /// 5. Set the tenant's placement with `TenantStore.update` on ``manager``'s store and
    ///    append a `tenant.placement-changed` audit record.
    ///
    /// NOTE: rows the tenant already has in pooled tables stay there; nothing is copied.
    ///
    /// - Throws: `TenantNotFoundError`; `TenantStateError` for a `deleting` or `deleted`
    ///   tenant; ``PostgresError`` when there is no admin pool, when a role or database of
    ///   that name exists without a stored placement, or when the server rejects a step.
    @discardableResult
    public func place(_ tenantID: TenantID) async throws -> Tenant {
        let admin = try requireAdmin(operation: "place tenant")
        let tenant = try await manager.tenant(tenantID)
        if tenant.status == .deleting || tenant.status == .deleted {
            throw TenantStateError(tenantID: tenantID, status: tenant.status, operation: "place the tenant in its own database")
        }
        let name = databaseName(of: tenantID)

        let previous = try await connectionSettings(of: tenantID)
        if previous == nil {
            try await requireFreeNames(name, admin: admin)
        }
        let fresh = PostgresTenantConnectionSettings(host: host, port: port, database: name, role: name, password: Self.randomPassword())
        let settings = try await PostgresTenantDatabaseRegistry.insertOrRead(fresh, for: tenantID, in: schema, owner: owner)

        try await createRole(settings, admin: admin)
        try await createDatabase(settings, admin: admin)
        try await handOverPublicSchema(settings, admin: admin)
        try await pool(for: tenantID).migrate(component: "tenant", schema: tenantSchema, migrations)

        return try await recordPlacement(tenant, database: name)
    }

    /// Returns 32 random bytes from the system generator as 64 lowercase hex digits.
    static func randomPassword() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    /// Throws when a role or database with the tenant's name exists although no placement is
    /// stored, so placing never takes over an object someone else created.
    private func requireFreeNames(_ name: String, admin: PostgresDatabase) async throws {
        let rows = try await admin.query(
            """
            SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1) AS role_exists,
                   EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = $1) AS database_exists
            """, [.text(name)])
        guard let row = rows.first else { return }
        if try row.boolean("role_exists") || row.boolean("database_exists") {
            throw PostgresError(
                .invalidConfiguration, operation: "place tenant",
                message: "a role or database named '\(name)' exists but no placement is stored for it; drop it or choose another namePrefix")
        }
    }

    /// Creates the tenant's role, or resets the attributes and password of the role an earlier
    /// attempt created.
    private func createRole(_ settings: PostgresTenantConnectionSettings, admin: PostgresDatabase) async throws {
        let role = try PostgresIdentifier.quoted(settings.role)
        let password = settings.password
        let verifier = try await admin.withConnection { connection in try connection.scramVerifier(of: password) }
        let attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD '\(verifier)'"
        try await admin.transaction { connection in
            let exists = try connection.query("SELECT FROM pg_catalog.pg_roles WHERE rolname = $1", [.text(settings.role)])
            try connection.execute(exists.isEmpty ? "CREATE ROLE \(role) WITH \(attributes)" : "ALTER ROLE \(role) WITH \(attributes)")
        }
    }

    /// Creates the tenant's database when missing and leaves `CONNECT` to the tenant's role
    /// alone.
    private func createDatabase(_ settings: PostgresTenantConnectionSettings, admin: PostgresDatabase) async throws {
        let database = try PostgresIdentifier.quoted(settings.database)
        let role = try PostgresIdentifier.quoted(settings.role)
        let quotedSchema = try PostgresIdentifier.quoted(tenantSchema)
        let exists = try await admin.query("SELECT FROM pg_catalog.pg_database WHERE datname = $1", [.text(settings.database)])
        if exists.isEmpty {
            // CREATE DATABASE cannot run inside a transaction block, so it runs on its own.
            try await admin.execute("CREATE DATABASE \(database) TEMPLATE template0")
        }
        try await admin.withConnection { connection in
            try connection.executeScript("""
                REVOKE ALL ON DATABASE \(database) FROM PUBLIC;
                GRANT CONNECT, CREATE, TEMPORARY ON DATABASE \(database) TO \(role);
                ALTER ROLE \(role) IN DATABASE \(database) SET search_path TO \(quotedSchema);
                """)
        }
    }

    /// Makes the tenant's role the owner of the `public` schema of its database, so its
    /// migrations and statements can create objects there.
    private func handOverPublicSchema(_ settings: PostgresTenantConnectionSettings, admin: PostgresDatabase) async throws {
        var configuration = admin.configuration
        configuration.database = settings.database
        let inTenantDatabase = try PostgresDatabase(configuration, maximumConnections: 1)
        let role = try PostgresIdentifier.quoted(settings.role)
        do {
            try await inTenantDatabase.execute("ALTER SCHEMA public OWNER TO \(role)")
            await inTenantDatabase.close()
        } catch {
            await inTenantDatabase.close()
            throw error
        }
    }

    /// Sets the tenant's placement in the registry and appends an audit record, unless the
    /// placement is already recorded.
    private func recordPlacement(_ tenant: Tenant, database name: String) async throws -> Tenant {
        let placement = TenantPlacement.database(name: name)
        if tenant.placement == placement { return tenant }
        let now = manager.clock.now().truncatedToMilliseconds
        let (before, after) = try await manager.store.update(tenant.id) { current in
            if current.status == .deleting || current.status == .deleted {
                throw TenantStateError(tenantID: current.id, status: current.status, operation: "place the tenant in its own database")
            }
            var changed = current
            changed.placement = placement
            changed.updatedAt = now
            return changed
        }
        if before.placement != placement {
            try await manager.audit.append(AuditRecord(
                time: now, tenantID: tenant.id, principalID: nil, action: .placementChanged, outcome: .success,
                detail: "\(before.placement) -> \(placement)"))
        }
        return after
    }
}

extension AuditAction {
    /// A tenant moved to another placement, such as a database of its own.
    public static let placementChanged: AuditAction = "tenant.placement-changed"
}

extension PostgresConnection {
    /// Returns the SCRAM-SHA-256 verifier of `password`, computed by libpq on the client
    /// (`PQencryptPasswordConn`), for `CREATE ROLE ... PASSWORD` without sending the password.
    ///
    /// - Throws: ``PostgresError/Kind/protocolViolation`` when libpq fails or returns a
    ///   verifier with characters that could end the SQL string literal.
    func scramVerifier(of password: String) throws -> String {
        let handle = try handle(for: "encrypt password")
        guard let pointer = PQencryptPasswordConn(handle, password, "", "scram-sha-256") else {
            throw PostgresError(.protocolViolation, operation: "encrypt password", message: "libpq could not compute the SCRAM-SHA-256 verifier: \(Self.errorMessage(handle))")
        }
        defer { PQfreemem(pointer) }
        let verifier = String(cString: pointer)
        // The form is SCRAM-SHA-256$<iterations>:<salt>$<stored key>:<server key>, base64 parts.
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=$:-")
        guard verifier.hasPrefix("SCRAM-SHA-256$"), verifier.allSatisfy(allowed.contains) else {
            throw PostgresError(.protocolViolation, operation: "encrypt password", message: "libpq returned a password verifier of an unexpected form")
        }
        return verifier
    }
}
