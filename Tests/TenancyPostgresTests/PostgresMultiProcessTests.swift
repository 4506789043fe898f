import TenancyTesting
import Foundation
import Tenancy
import TenancyPostgres
import Testing

/// Several processes share one PostgreSQL registry. Each child is the `tenancy-test-worker`
/// executable, connected as the application role to a schema this test installs.
@Suite("PostgreSQL across processes", .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipMessage))
struct PostgresMultiProcessTests {
    @Test("processes see each other's tenants")
    func processesShareRegistry() async throws {
        let url = try PostgresTestServer.urls().application
        let worker = try builtExecutable("tenancy-test-worker")
        try await PostgresTestServer.withRegistrySchema { schema in
            // Both processes derive ids from one name, so they race for the same ids and
            // must settle on distinct ones through the shared primary key.
            let arguments = ["create", "--database", url, "--schema", schema.name, "--name", "Shared Name", "--count", "4"]
            async let first = runInBackground(worker, arguments)
            async let second = runInBackground(worker, arguments)
            let results = try await [first, second]
            for result in results {
                try #require(result.status == 0, "create failed: \(result.standardError)")
            }
            let created = results.flatMap { $0.standardOutput.split(separator: "\n").map(String.init) }
            #expect(created.count == 8)
            #expect(Set(created).count == 8)

            let listed = try await runInBackground(worker, ["list", "--database", url, "--schema", schema.name])
            try #require(listed.status == 0, "list failed: \(listed.standardError)")
            #expect(listed.standardOutput.split(separator: "\n").map(String.init) == created.sorted())

            // And this process sees what the children wrote, through its own pool.
            let manager = try await TenantManager.postgres(try await PostgresTestServer.application(), schema: schema)
            let page = try await manager.listTenants(limit: 100)
            #expect(page.tenants.map(\.id.rawValue) == created.sorted())
            let audit = try await manager.auditRecords(limit: 100)
            #expect(audit.filter { $0.action == .tenantCreated }.count == 8)
        }
    }

    /// Runs the child; `run` waits for it on a Dispatch thread, so two children run at once
    /// without blocking the cooperative pool.
    func runInBackground(_ executable: URL, _ arguments: [String]) async throws -> ProcessResult {
        try await runChildProcess(executable, arguments)
    }
}
