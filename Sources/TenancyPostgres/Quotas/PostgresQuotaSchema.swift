import Foundation
import Tenancy

/// The tables of quota counters, refunds, leases and rate-limit buckets in one PostgreSQL schema.
///
/// ``install(owner:applicationRole:)`` runs the migrations as the owner role and grants the
/// application role only row access: it may read, insert, update and delete rows of these
/// tables, and create or alter nothing. Instants are integer milliseconds since 1970, except
/// rate-limit TATs, which are integer nanoseconds. Each subject is stored as
/// ``QuotaSubject/storageKey``. The key columns use the `C` collation, so every server orders
/// them by bytes, and decisions lock rows in that order.
public struct PostgresQuotaSchema: Sendable {
    static let quotaComponent = "quotas"
    static let rateLimitComponent = "rate-limits"

    /// The schema name, `tenancy` by default (the registry's schema, which can hold both).
    public let name: String
    /// The quoted schema name, for SQL text.
    let quotedName: String

    /// Creates a schema description; the name is checked as an identifier.
    public init(name: String = "tenancy") throws {
        self.name = name
        self.quotedName = try PostgresIdentifier.quoted(name)
    }

    /// Returns the schema-qualified, quoted name of one of the schema's tables.
    func table(_ table: String) -> String {
        "\(quotedName).\(table)"
    }

    // Leases are one row per key holding the unexpired lease ids and their expiry instants in
    // two arrays of equal length. A decision locks that row and so reads every lease another
    // decision committed. A row per lease could not be counted exactly in one statement,
    // because a statement does not see rows committed after it started.
    static let quotaMigrations: [PostgresMigration] = [
        PostgresMigration(version: 1, name: "create quota counters, refunds and leases", sql: """
            CREATE TABLE tenancy_quota_counters (
                subject text COLLATE "C" NOT NULL,
                quota text COLLATE "C" NOT NULL,
                period text COLLATE "C" NOT NULL,
                window_start bigint NOT NULL,
                window_end bigint NOT NULL,
                used bigint NOT NULL CHECK (used >= 0),
                PRIMARY KEY (subject, quota, period)
            );

            CREATE TABLE tenancy_quota_refunds (
                charge_id uuid PRIMARY KEY,
                tenant_id text COLLATE "C" NOT NULL,
                keep_until bigint NOT NULL
            );
            CREATE INDEX tenancy_quota_refunds_by_tenant ON tenancy_quota_refunds (tenant_id);
            CREATE INDEX tenancy_quota_refunds_by_expiry ON tenancy_quota_refunds (keep_until);

            CREATE TABLE tenancy_quota_leases (
                subject text COLLATE "C" NOT NULL,
                quota text COLLATE "C" NOT NULL,
                lease_ids uuid[] NOT NULL,
                expires_at bigint[] NOT NULL,
                PRIMARY KEY (subject, quota),
                CHECK (cardinality(lease_ids) = cardinality(expires_at))
            );
            """),
    ]

    static let rateLimitMigrations: [PostgresMigration] = [
        PostgresMigration(version: 1, name: "create rate-limit buckets", sql: """
            CREATE TABLE tenancy_rate_limits (
                subject text COLLATE "C" NOT NULL,
                key text COLLATE "C" NOT NULL,
                tat bigint NOT NULL,
                PRIMARY KEY (subject, key)
            );
            """),
    ]

    /// Migrates the quota and rate-limit tables with the owner role's pool and grants
    /// `applicationRole` row access to them. Safe to run again; each run repeats the grants.
    ///
    /// - Parameter applicationRole: the role the stores connect as, usually the user of the
    ///   application pool's configuration.
    public func install(owner: PostgresDatabase, applicationRole: String) async throws {
        try await owner.migrate(component: Self.quotaComponent, schema: name, Self.quotaMigrations)
        try await owner.migrate(component: Self.rateLimitComponent, schema: name, Self.rateLimitMigrations)
        let role = try PostgresIdentifier.quoted(applicationRole)
        try await owner.transaction { [quotedName] connection in
            try connection.executeScript("""
                GRANT USAGE ON SCHEMA \(quotedName) TO \(role);
                GRANT SELECT ON \(quotedName).tenancy_migrations TO \(role);
                GRANT SELECT, INSERT, UPDATE, DELETE ON \(quotedName).tenancy_quota_counters TO \(role);
                GRANT SELECT, INSERT, DELETE ON \(quotedName).tenancy_quota_refunds TO \(role);
                GRANT SELECT, INSERT, UPDATE, DELETE ON \(quotedName).tenancy_quota_leases TO \(role);
                GRANT SELECT, INSERT, UPDATE, DELETE ON \(quotedName).tenancy_rate_limits TO \(role);
                """)
        }
    }

    /// Checks that `component` is installed at the version this library expects, so a store
    /// fails at start-up instead of at its first statement.
    func requireInstalled(_ database: PostgresDatabase, component: String, migrations: [PostgresMigration]) async throws {
        let expected = migrations.count
        let version = try await database.migrationVersion(component: component, schema: name)
        guard let version, version >= expected else {
            throw PostgresError(
                .invalidConfiguration, operation: "open \(component) store",
                message: "the \(component) tables in schema '\(name)' are at version \(version.map(String.init) ?? "none"), expected \(expected): "
                    + "run PostgresQuotaSchema.install(owner:applicationRole:) with the owner role first")
        }
    }
}

/// Array parameters in PostgreSQL's text format, so a decision passes all its lines in one
/// parameter per column and the statement reads them back with `unnest`.
enum PostgresArray {
    /// Returns `{"a","b"}`, every element quoted, with `"` and `\` escaped.
    static func text(_ elements: [String]) -> PostgresValue {
        var literal = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 { literal += "," }
            literal += "\""
            for character in element {
                if character == "\"" || character == "\\" { literal += "\\" }
                literal.append(character)
            }
            literal += "\""
        }
        return .text(literal + "}")
    }

    /// Returns `{1,2,3}`.
    static func integers(_ elements: [Int64]) -> PostgresValue {
        .text("{" + elements.map(String.init).joined(separator: ",") + "}")
    }
}

/// A store input that no decision can apply, such as the same counter twice in one charge.
///
/// Nothing was read or written. The description names the counter or value, never SQL text.
public struct PostgresQuotaStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of input rejected, for matching in `catch` clauses.
    public enum Code: String, Hashable, Sendable {
        /// One decision named the same counter or bucket twice.
        case duplicateKey
        /// A rate-limit cost below 1.
        case invalidCost
        /// A decision kept conflicting with concurrent decisions that created its rows.
        case tooManyConflicts
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Retries a one-statement decision that failed only because a concurrent decision got there
/// first: a unique violation on a row this one meant to create (the row exists now, so the
/// next attempt locks it instead), or a deadlock the server broke by cancelling this statement.
/// The failed attempt rolled back completely, so a retry cannot apply anything twice.
func retryingConflicts<Result>(operation: String, _ attempt: () async throws -> Result) async throws -> Result {
    let attempts = 8
    for _ in 1..<attempts {
        do {
            return try await attempt()
        } catch let error as PostgresError where error.code == .uniqueViolation || error.code == .deadlockDetected {
            continue
        }
    }
    do {
        return try await attempt()
    } catch let error as PostgresError where error.code == .uniqueViolation || error.code == .deadlockDetected {
        throw PostgresQuotaStoreError(
            .tooManyConflicts,
            "\(operation) conflicted with concurrent decisions \(attempts) times in a row (last: SQLSTATE \(error.code.map(\.description) ?? "none")); retry later, or check for a process resetting the same counters in a loop")
    }
}
