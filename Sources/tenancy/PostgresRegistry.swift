import Foundation
import Tenancy
import TenancyPostgres

/// The PostgreSQL settings besides the application role's URL: `--owner-database`,
/// `--maintenance-database`, `--schema` and the binding secret.
struct PostgresSettings: Sendable {
    /// The owner role's URL, which installs the schema and runs the verifier's probes.
    var ownerURL: String?
    /// The `BYPASSRLS` maintenance role's URL, for `sql --platform`. Every command parses it,
    /// so a mistyped value fails. Only `sql --platform` connects with it, because purge and
    /// probes bind the tenant instead.
    var maintenanceURL: String?
    /// The schema of the registry, quota tables and row-level security objects.
    var schema = defaultSchema
    /// The secret of the verified tenant binding, as hexadecimal digits.
    var secretHex: String?
    /// The per-statement time limit of the application role's connections, or nil for none.
    var statementTimeLimit: Duration?

    static let ownerVariable = "TENANCY_OWNER_DATABASE_URL"
    static let maintenanceVariable = "TENANCY_MAINTENANCE_DATABASE_URL"
    static let schemaVariable = "TENANCY_DATABASE_SCHEMA"
    static let defaultSchema = "tenancy"

    /// Returns the settings from the options, else the environment.
    static func resolve(_ arguments: ParsedArguments, environment: [String: String]) -> PostgresSettings {
        func value(_ option: String, _ variable: String) -> String? {
            arguments.value(option) ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        }
        var settings = PostgresSettings()
        settings.ownerURL = value("owner-database", ownerVariable)
        settings.maintenanceURL = value("maintenance-database", maintenanceVariable)
        settings.schema = value("schema", schemaVariable) ?? defaultSchema
        settings.secretHex = environment[PostgresBindingSecret.environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
        return settings
    }

    /// Returns the maintenance role's URL, or throws an error saying how to set it.
    func requireMaintenanceURL() throws -> String {
        guard let maintenanceURL else {
            throw UsageError(
                "'sql --platform' reads every tenant's rows through the maintenance role, a read-only role with BYPASSRLS: "
                    + "pass --maintenance-database URL or set \(Self.maintenanceVariable)")
        }
        return maintenanceURL
    }

    /// Returns the binding secret, or throws an error saying how to set it.
    func requireSecret() throws -> PostgresBindingSecret {
        let variable = PostgresBindingSecret.environmentVariable
        guard let secretHex else {
            throw UsageError(
                "missing \(variable): row-level security on PostgreSQL verifies each tenant binding with this secret; "
                    + "set it to the 64 to 128 hexadecimal digits stored at install time (a new install takes any, such as the output of 'openssl rand -hex 32')")
        }
        do {
            return try PostgresBindingSecret(hex: secretHex)
        } catch let error as IsolationError {
            throw UsageError("invalid \(variable): \(error.message)")
        }
    }
}

/// The PostgreSQL side of an open registry: the pools and the row-level security layer.
struct PostgresBackend: Sendable {
    /// The application role's pool.
    let database: PostgresDatabase
    /// The owner role's pool, when `--owner-database` or its variable is set.
    let owner: PostgresDatabase?
    let schema: String
    /// The tenant tables behind row-level security, or nil when the schema has none installed
    /// or the command did not need them and no secret was set.
    let tenants: PostgresTenantDatabase?

    /// Returns the tenant tables, or throws an error naming what is missing.
    func requireTenants() throws -> PostgresTenantDatabase {
        guard let tenants else {
            throw UsageError(
                "row-level security is not installed in schema '\(schema)': run 'tenancy create' once with --owner-database URL "
                    + "and \(PostgresBindingSecret.environmentVariable) set, which installs it")
        }
        return tenants
    }

    /// Returns the owner role's pool, or throws an error saying that `command` needs it.
    func requireOwner(for command: String) throws -> PostgresDatabase {
        guard let owner else {
            throw UsageError("'\(command)' on PostgreSQL needs the owner role: pass --owner-database URL or set \(PostgresSettings.ownerVariable)")
        }
        return owner
    }
}

/// Connecting to PostgreSQL, or setting up the registry there, failed.
struct PostgresOpenError: Error, CustomStringConvertible {
    /// The URL without its password.
    let location: String
    let schema: String
    let underlying: any Error

    var description: String {
        "cannot open the registry in schema '\(schema)' of \(location): \(underlying)"
    }
}

/// Connecting as the maintenance role failed.
struct MaintenanceConnectionError: Error, CustomStringConvertible {
    /// The URL without its password.
    let location: String
    let underlying: PostgresError

    var description: String {
        "cannot connect as the maintenance role to \(location): \(underlying); check --maintenance-database or \(PostgresSettings.maintenanceVariable)"
    }
}

extension OpenRegistry {
    /// The maximum connections of the CLI's application pool: one command runs a few
    /// statements at a time, and the demo's concurrent section runs at most four tenants.
    static let postgresPoolSize = 4

    /// Opens the registry in `settings.schema`, installing missing parts with the owner role.
    ///
    /// `create` allows installing the registry and quota tables and row-level security when
    /// they are missing. Row-level security is installed only where it is missing, because
    /// installing it again stores the secret again and would rotate a key other processes use.
    /// `requireMaintenance` opens the tenant tables with a pool for the maintenance role,
    /// which gets the same statement time limit as the application role.
    static func openPostgres(
        url: String, settings: PostgresSettings, create: Bool, requireTenants: Bool = false, requireMaintenance: Bool = false
    ) async throws -> OpenRegistry {
        var configuration = try parseURL(url, source: "--database")
        configuration.statementTimeLimit = settings.statementTimeLimit
        guard (try? PostgresIdentifier.quoted(settings.schema)) != nil else {
            throw UsageError("invalid schema name '\(settings.schema)' in --schema or \(PostgresSettings.schemaVariable): expected 1 to 63 bytes without NUL")
        }
        if let ownerURL = settings.ownerURL {
            _ = try parseURL(ownerURL, source: "--owner-database")
        }
        var maintenanceConfiguration = try settings.maintenanceURL.map { try parseURL($0, source: "--maintenance-database") }
        maintenanceConfiguration?.statementTimeLimit = settings.statementTimeLimit
        if requireMaintenance {
            _ = try settings.requireMaintenanceURL()
        }
        let location = configuration.description
        let database = try PostgresDatabase(configuration, maximumConnections: postgresPoolSize)
        let owner = try settings.ownerURL.map { try PostgresDatabase(url: $0, maximumConnections: 2) }
        let maintenance = try requireMaintenance ? maintenanceConfiguration.map { try PostgresDatabase($0, maximumConnections: 1) } : nil
        do {
            let registrySchema = try PostgresRegistrySchema(name: settings.schema)
            let quotaSchema = try PostgresQuotaSchema(name: settings.schema)
            let rowLevelSecurity = try PostgresRowLevelSecurity(schema: settings.schema)
            let quoted = try PostgresIdentifier.quoted(settings.schema)

            if let maintenance, let maintenanceConfiguration {
                try await checkConnection(maintenance, location: maintenanceConfiguration.description)
            }

            let hasRegistry = try await tableExists("\(quoted).tenancy_tenants", in: database)
            let hasQuotas = try await tableExists("\(quoted).tenancy_quota_counters", in: database)
            var hasRowLevelSecurity = try await tableExists("\(quoted).rls_tables", in: database)
            // Installing row-level security needs the secret, so a missing one must stop the
            // command before it installs anything else.
            let installSecret = !hasRowLevelSecurity && create && owner != nil ? try settings.requireSecret() : nil
            if !hasRegistry || !hasQuotas {
                guard create else {
                    throw UsageError("no registry in schema '\(settings.schema)' of \(location): check --schema, or create it with 'tenancy create --owner-database URL'")
                }
                guard let owner else {
                    throw UsageError(
                        "installing the registry in schema '\(settings.schema)' needs the owner role: pass --owner-database URL or set \(PostgresSettings.ownerVariable)")
                }
                try await registrySchema.install(owner: owner, applicationRole: configuration.user)
                try await quotaSchema.install(owner: owner, applicationRole: configuration.user)
            }
            if let installSecret, let owner {
                try await rowLevelSecurity.install(owner: owner, applicationRole: configuration.user, binding: .verified(installSecret))
                hasRowLevelSecurity = true
            }

            let manager = try await TenantManager.postgres(database, schema: registrySchema)
            let quotaStore = try await PostgresQuotaStore(database: database, schema: quotaSchema)
            let rateLimitStore = try await PostgresRateLimitStore(database: database, schema: quotaSchema)
            manager.register(QuotaPurger(store: quotaStore))
            manager.register(RateLimitPurger(store: rateLimitStore))

            // Without the secret no statement can be bound to a tenant, so commands that only
            // read or change the registry run without it and the others fail here.
            var tenants: PostgresTenantDatabase?
            if hasRowLevelSecurity && (requireTenants || settings.secretHex != nil) {
                let opened = try await PostgresTenantDatabase(
                    database, binding: .verified(try settings.requireSecret()), rowLevelSecurity: rowLevelSecurity, maintenance: maintenance)
                manager.register(PostgresTenantRowsPurger(opened))
                tenants = opened
            }
            let backend = PostgresBackend(database: database, owner: owner, schema: settings.schema, tenants: tenants)
            if requireTenants {
                _ = try backend.requireTenants()
            }
            return OpenRegistry(
                manager: manager, backend: .postgres(backend), path: "\(location), schema \(settings.schema)", quotaStore: quotaStore,
                rateLimitStore: rateLimitStore)
        } catch let error as UsageError {
            throw error
        } catch let error as PostgresError {
            throw PostgresOpenError(location: location, schema: settings.schema, underlying: error)
        }
    }

    /// Parses a PostgreSQL URL, turning an invalid one into a usage error that shows the URL
    /// without its password.
    static func parseURL(_ url: String, source: String) throws(UsageError) -> PostgresConfiguration {
        do {
            return try PostgresConfiguration(url: url)
        } catch {
            let reason = (error as? PostgresError)?.message ?? "\(error)"
            throw UsageError("invalid \(source) '\(DatabaseLocation.redacted(url))': \(reason)")
        }
    }

    /// Runs a trivial statement on the maintenance pool, so a wrong URL or password is
    /// reported against that pool rather than against the registry.
    private static func checkConnection(_ maintenance: PostgresDatabase, location: String) async throws {
        do {
            _ = try await maintenance.query("SELECT 1")
        } catch let error as PostgresError {
            throw MaintenanceConnectionError(location: location, underlying: error)
        }
    }

    private static func tableExists(_ qualifiedName: String, in database: PostgresDatabase) async throws -> Bool {
        try await database.query("SELECT pg_catalog.to_regclass($1) IS NOT NULL AS found", [.text(qualifiedName)])[0].boolean("found")
    }
}
