import Tenancy
import TenancyPostgres

/// The scope a `sql` statement runs in: one tenant's, or the platform scope, read-only across
/// tenants.
enum SQLTarget: Equatable {
    case tenant(TenantID)
    /// The platform scope, entered with this reason.
    case platform(reason: String)

    /// Reads `--tenant ID`, or `--platform` with `--reason TEXT`. The two exclude each other.
    init(_ arguments: ParsedArguments) throws {
        let tenant = arguments.value("tenant")
        let reason = arguments.value("reason")
        switch (tenant, arguments.has("platform")) {
        case (let id?, false):
            guard reason == nil else {
                throw UsageError("option '--reason' applies only to '--platform': a statement run as a tenant needs no reason")
            }
            self = .tenant(try TenantID(validating: id))
        case (nil, true):
            guard let reason else {
                throw UsageError("missing option '--reason': '--platform' reads every tenant's rows, and the reason is recorded in the audit trail")
            }
            self = .platform(reason: try InputRules.validatedReason(reason))
        case (.some, true):
            throw UsageError("options '--tenant' and '--platform' exclude each other: run the statement as one tenant, or read-only across all of them")
        case (nil, false):
            throw UsageError("missing option '--tenant' (or '--platform' with '--reason' to read across tenants)")
        }
    }
}

extension IsolationCommands {
    /// The SQLSTATEs with which PostgreSQL stops a statement in a read-only transaction: a
    /// write (25006), a switch back to read-write (25001), and a `COMMIT` inside `DO` (2D000).
    static let readOnlyViolations: Set<String> = ["25006", "25001", "2D000"]

    /// Runs `statement` read-only as the maintenance role, in the platform scope entered with
    /// `reason`, and returns its rows.
    static func runAcrossTenants(_ statement: String, reason: String, _ invocation: Invocation) async throws -> [PostgresRow] {
        let sqliteError = UsageError(
            "'sql --platform' needs a PostgreSQL registry, where the maintenance role reads across tenants; on SQLite, run the statement as each tenant with --tenant ID")
        let location = try DatabaseLocation.resolve(option: invocation.arguments.value("database"), environment: invocation.environment)
        guard case .postgres = location else {
            throw sqliteError
        }
        let registry = try await invocation.openRegistry(platformReads: true, statementTimeLimit: .seconds(statementTimeLimitSeconds))
        guard case .postgres(let backend) = registry.backend else {
            throw sqliteError
        }
        let tenants = try backend.requireTenants()
        let query = PostgresQuery(unsafeSQL: statement)
        do {
            return try await registry.manager.withPlatformScope(reason: reason) {
                try await tenants.platformQuery(query)
            }
        } catch let error as PostgresError {
            if error.code == .insufficientPrivilege {
                throw MaintenancePrivilegeError(underlying: error)
            }
            guard let code = error.code, readOnlyViolations.contains(code.rawValue) else {
                throw error
            }
            throw PlatformWriteRejectedError(sqlState: code.rawValue)
        }
    }
}

/// A `sql --platform` statement tried to write or to leave its read-only transaction, and
/// PostgreSQL rejected it; the CLI exits with status 4.
struct PlatformWriteRejectedError: Error, CustomStringConvertible {
    let sqlState: String

    var description: String {
        "the statement tried to write, and 'sql --platform' runs it in a read-only transaction, so nothing changed (SQLSTATE \(sqlState)); "
            + "change a tenant's rows with 'sql --tenant ID'"
    }
}

/// The maintenance role lacks a privilege a `sql --platform` statement needs, most often
/// `SELECT` on a table that was protected without naming it, or `USAGE` on the table's schema.
struct MaintenancePrivilegeError: Error, CustomStringConvertible {
    let underlying: PostgresError

    var description: String {
        "the maintenance role may not read what the statement names (SQLSTATE 42501): protect the table with "
            + "protect(table:owner:applicationRole:maintenanceRole:), which grants it SELECT, and GRANT USAGE on the table's schema to it"
            + CommandLineTool.serverDetail(underlying)
    }
}
