import Foundation
import Tenancy
import TenancyPostgres
import Testing
import Synchronization

/// The PostgreSQL server `./scripts/test` starts, found through its environment variables.
///
/// Backend tests carry `.enabled(if: PostgresTestServer.shouldRun, ...)`. Under
/// `./scripts/test` or CI (`TENANCY_TEST_REQUIRE_BACKENDS=1`) they always run, and a missing
/// URL fails them through ``urls()``: skipping there would let a broken set-up pass. A plain
/// `swift test` without the variables skips them with the trait's comment.
enum PostgresTestServer {
    static let environment = ProcessInfo.processInfo.environment
    static let required = environment["TENANCY_TEST_REQUIRE_BACKENDS"] == "1"
    static let variables = [
        "TENANCY_TEST_POSTGRES_URL", "TENANCY_TEST_POSTGRES_OWNER_URL",
        "TENANCY_TEST_POSTGRES_MAINTENANCE_URL", "TENANCY_TEST_POSTGRES_ADMIN_URL",
    ]
    static let isConfigured = variables.allSatisfy { environment[$0]?.isEmpty == false }
    static let shouldRun = isConfigured || required
    static let skipMessage: Comment = "PostgreSQL tests need a server: run ./scripts/test, which starts one and sets TENANCY_TEST_POSTGRES_URL"

    /// The connection URLs of the four roles.
    struct URLs {
        /// `tenancy_app`: no owner rights, no BYPASSRLS.
        let application: String
        /// `tenancy_owner`: owns the database, runs migrations.
        let owner: String
        /// `tenancy_maintenance`: BYPASSRLS.
        let maintenance: String
        /// The superuser.
        let admin: String
    }

    /// Returns the URLs, or records an issue naming the missing variables and throws.
    static func urls() throws -> URLs {
        let missing = variables.filter { environment[$0]?.isEmpty != false }
        guard missing.isEmpty else {
            Issue.record("missing \(missing.joined(separator: ", ")) although TENANCY_TEST_REQUIRE_BACKENDS=1: run the tests through ./scripts/test, which starts PostgreSQL and sets them")
            throw MissingServerError()
        }
        return URLs(
            application: environment["TENANCY_TEST_POSTGRES_URL"]!, owner: environment["TENANCY_TEST_POSTGRES_OWNER_URL"]!,
            maintenance: environment["TENANCY_TEST_POSTGRES_MAINTENANCE_URL"]!, admin: environment["TENANCY_TEST_POSTGRES_ADMIN_URL"]!)
    }

    struct MissingServerError: Error {}

    /// A test installation that did not come out as the test needs.
    struct SetupError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Pools shared by the tests of this process, opened on first use.
    static let pools = PoolCache()

    static func application() async throws -> PostgresDatabase { try await pools.pool(\.application, size: 16) }
    static func owner() async throws -> PostgresDatabase { try await pools.pool(\.owner, size: 4) }
    static func admin() async throws -> PostgresDatabase { try await pools.pool(\.admin, size: 2) }

    actor PoolCache {
        private var pools: [KeyPath<URLs, String>: PostgresDatabase] = [:]

        func pool(_ role: KeyPath<URLs, String>, size: Int) throws -> PostgresDatabase {
            if let pool = pools[role] { return pool }
            let pool = try PostgresDatabase(url: try PostgresTestServer.urls()[keyPath: role], maximumConnections: size)
            pools[role] = pool
            return pool
        }
    }

    /// Serializes the tests that change the test database's privileges.
    static let databaseGrants = SerialLock()

    /// Runs `body` while no other test changes the test database's privileges (`GRANT` or
    /// `REVOKE ... ON DATABASE`, or dropping a role that has one), or the grants on
    /// `pg_prepared_statements` that the superuser SQL revokes. PostgreSQL keeps each object's
    /// grants in one catalog row, and two sessions changing it at once fail with "tuple
    /// concurrently updated" (SQLSTATE XX000, seen on PostgreSQL 15.18).
    static func withDatabaseGrantsLocked<Result>(_ body: () async throws -> Result) async throws -> Result {
        await databaseGrants.acquire()
        do {
            let result = try await body()
            await databaseGrants.release()
            return result
        } catch {
            await databaseGrants.release()
            throw error
        }
    }

    /// A lock for async code: callers wait in order and resume one at a time.
    actor SerialLock {
        private var isLocked = false
        private var waiters: [CheckedContinuation<Void, Never>] = []

        func acquire() async {
            guard isLocked else {
                isLocked = true
                return
            }
            await withCheckedContinuation { waiters.append($0) }
        }

        func release() {
            if waiters.isEmpty {
                isLocked = false
            } else {
                waiters.removeFirst().resume()
            }
        }
    }

    /// Returns a schema name no other test or run uses, so tests never see each other's rows.
    static func uniqueSchemaName(_ prefix: String) -> String {
        "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `body` with a registry schema of its own, installed for the application role, and
    /// drops the schema afterwards, also when `body` throws.
    static func withRegistrySchema<Result>(_ body: (PostgresRegistrySchema) async throws -> Result) async throws -> Result {
        let schema = try PostgresRegistrySchema(name: uniqueSchemaName("test_registry"))
        let owner = try await owner()
        let applicationRole = try await application().configuration.user
        do {
            try await schema.install(owner: owner, applicationRole: applicationRole)
            let result = try await body(schema)
            try await dropSchema(schema.name)
            return result
        } catch {
            try? await dropSchema(schema.name)
            throw error
        }
    }

    static func dropSchema(_ name: String) async throws {
        try await owner().execute("DROP SCHEMA IF EXISTS \(try PostgresIdentifier.quoted(name)) CASCADE")
    }
}

/// Returns the outcome of `body`, or nil when it has not finished within `limit`.
///
/// For statements that could hang the client: the task running `body` is left behind on a
/// timeout, because a wait inside libpq or the poller does not end on task cancellation.
func outcome<Value: Sendable>(within limit: Duration, _ body: @escaping @Sendable () async throws -> Value) async -> Result<Value, any Error>? {
    await withCheckedContinuation { continuation in
        let once = ResumeOnce(continuation)
        Task {
            do {
                once.resume(.success(try await body()))
            } catch {
                once.resume(.failure(error))
            }
        }
        Task {
            try? await Task.sleep(for: limit)
            once.resume(nil)
        }
    }
}

/// A continuation that the first of several tasks resumes; later calls do nothing.
final class ResumeOnce<Value: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Value, Never>?>

    init(_ continuation: CheckedContinuation<Value, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ value: Value) {
        continuation.withLock { $0.take() }?.resume(returning: value)
    }
}
