import TenancyTesting
import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

/// Crash-and-resume and multi-process tests. Each child process is the `tenancy-test-worker`
/// executable; `TENANCY_FAULT` makes it kill itself with SIGKILL at an exact step.
@Suite("SQLite crash and multi-process")
struct SQLiteCrashTests {
    static let rowsPerTable = 5
    static let purgerNames = ["worker_items_a", "worker_items_b", "worker_items_c", "registry"]

    /// Every fault point of the deletion job with the hit at which the worker dies.
    static let faults = [
        "purge.after-deleting:1",
        "purge.before-purger:1", "purge.before-purger:2", "purge.before-purger:3", "purge.before-purger:4",
        "purge.after-purger:1", "purge.after-purger:2", "purge.after-purger:3", "purge.after-purger:4",
        "purge.after-receipt:1", "purge.before-deleted:1",
    ]

    @Test("purge resumes after a crash at each fault point", arguments: faults)
    func resumeAfterCrash(fault: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("crash.sqlite")
        let worker = try builtExecutable("tenancy-test-worker")
        let seeded = try await runChildProcess(worker, ["seed", "--database", path, "--tenant", "doomed", "--rows", "\(Self.rowsPerTable)"])
        try #require(seeded.status == 0, "seed failed: \(seeded.standardError)")
        let bystander = try await runChildProcess(worker, ["seed", "--database", path, "--tenant", "bystander", "--rows", "2"])
        try #require(bystander.status == 0, "seed failed: \(bystander.standardError)")

        let crashed = try await runChildProcess(worker, ["purge", "--database", path, "--tenant", "doomed"], environment: ["TENANCY_FAULT": fault])
        #expect(crashed.killedBySignal)
        #expect(crashed.status == SIGKILL)

        let manager = try await TenantManager.sqlite(try SQLiteDatabase(path: path))
        #expect(try await manager.tenant("doomed").status == .deleting)

        let resumed = try await runChildProcess(worker, ["purge", "--database", path, "--tenant", "doomed"])
        try #require(resumed.status == 0, "resume failed: \(resumed.standardError)")
        let receipt = try decodeReceipt(resumed.standardOutput)

        #expect(receipt.steps.map(\.purger) == Self.purgerNames)
        #expect(try await manager.tenant("doomed").status == .deleted)
        let database = try SQLiteDatabase(path: path)
        for table in ["worker_items_a", "worker_items_b", "worker_items_c"] {
            let counts = try await database.read { connection in
                try connection.query("SELECT tenant_id, count(*) AS n FROM \(table) GROUP BY tenant_id ORDER BY tenant_id")
                    .map { "\(try $0.text("tenant_id"))=\(try $0.integer("n"))" }
            }
            #expect(counts == ["bystander=2"], "table \(table)")
        }

        let again = try await runChildProcess(worker, ["purge", "--database", path, "--tenant", "doomed"])
        #expect(again.status == 0)
        #expect(again.standardOutput == resumed.standardOutput)
    }

    @Test("purge without a crash removes every row and counts them")
    func purgeCounts() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("counts.sqlite")
        let worker = try builtExecutable("tenancy-test-worker")
        _ = try await runChildProcess(worker, ["seed", "--database", path, "--tenant", "counted", "--rows", "\(Self.rowsPerTable)"])

        let result = try await runChildProcess(worker, ["purge", "--database", path, "--tenant", "counted"])
        try #require(result.status == 0, "purge failed: \(result.standardError)")
        let receipt = try decodeReceipt(result.standardOutput)

        #expect(receipt.steps.map(\.removed) == [Self.rowsPerTable, Self.rowsPerTable, Self.rowsPerTable, 1])
        #expect(receipt.totalRemoved == 3 * Self.rowsPerTable + 1)
    }

    @Test("two processes creating tenants with one name get distinct ids")
    func concurrentCreation() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("names.sqlite")
        let worker = try builtExecutable("tenancy-test-worker")
        let perProcess = 20
        _ = try await TenantManager.sqlite(try SQLiteDatabase(path: path))

        async let first = Task.detached {
            try await runChildProcess(worker, ["create", "--database", path, "--name", "Same Name", "--count", "\(perProcess)"])
        }.value
        async let second = Task.detached {
            try await runChildProcess(worker, ["create", "--database", path, "--name", "Same Name", "--count", "\(perProcess)"])
        }.value
        let results = try await [first, second]

        for result in results {
            #expect(result.status == 0, "worker failed: \(result.standardError)")
        }
        let printed = results.flatMap { $0.standardOutput.split(separator: "\n").map(String.init) }
        #expect(printed.count == 2 * perProcess)
        #expect(Set(printed).count == 2 * perProcess)
        let manager = try await TenantManager.sqlite(try SQLiteDatabase(path: path))
        let stored = try await manager.listTenants(limit: 1_000).tenants
        #expect(Set(stored.map(\.id.rawValue)) == Set(printed))
        #expect(stored.allSatisfy { $0.name == "Same Name" })
    }

    func decodeReceipt(_ output: String) throws -> PurgeReceipt {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(PurgeReceipt.self, from: Data(output.utf8))
    }
}
