import Foundation
import Tenancy
import TenancySQLite

/// `quotas`: quota decisions per second, single-threaded.
///
/// The in-memory store is compared with the Python `limits` package's in-memory fixed window
/// (`FixedWindowRateLimiter` over `MemoryStorage`), run as a child process in the same run
/// when `--python PATH` names an interpreter that has it (`scripts/bench` creates one). SQLite
/// decisions are reported against the in-memory store. With `postgres` options, PostgreSQL
/// decisions from concurrent tasks are compared with pgbench (`benchmarkPostgresQuotas`).
func benchmarkQuotas(rounds: Int, python: String?, postgres: PostgresQuotaBenchmarkOptions?) async throws -> [Comparison] {
    let decisions = 50_000
    let config = QuotaConfig(limits: [QuotaLimit(name: "debates", limit: 1_000_000_000_000, period: .day)])
    let tenant: TenantID = "bench-tenant"

    let memory = try QuotaManager(config, store: InMemoryQuotaStore())
    let memoryRate = try await decisionsPerSecond(rounds: rounds, decisions: decisions) {
        _ = try await memory.checkAndIncrement("debates", tenantID: tenant)
    }

    var comparisons: [Comparison] = []
    if let python {
        let baseline = try pythonLimitsRate(python: python, decisions: decisions, rounds: rounds)
        comparisons.append(Comparison(
            name: "quotas.in-memory-decisions", ours: memoryRate, baseline: baseline.rate, unit: "decisions/s",
            baselineName: "Python limits \(baseline.version) FixedWindowRateLimiter over MemoryStorage", direction: .higherIsBetter))
    } else {
        FileHandle.standardError.write(Data("note: quotas.in-memory-decisions needs --python PATH with the limits package; scripts/bench provides it\n".utf8))
    }

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let database = try SQLiteDatabase(path: directory.appendingPathComponent("quotas.sqlite").path, synchronous: "NORMAL")
    let sqlite = try QuotaManager(config, store: try await SQLiteQuotaStore(database: database))
    let sqliteDecisions = 2_000
    let sqliteRate = try await decisionsPerSecond(rounds: rounds, decisions: sqliteDecisions) {
        _ = try await sqlite.checkAndIncrement("debates", tenantID: tenant)
    }
    comparisons.append(Comparison(
        name: "quotas.sqlite-decisions", ours: sqliteRate, baseline: memoryRate, unit: "decisions/s",
        baselineName: "the in-memory store, same run (synchronous=NORMAL)", direction: .higherIsBetter))
    if let postgres {
        comparisons.append(try await benchmarkPostgresQuotas(rounds: rounds, options: postgres))
    } else {
        FileHandle.standardError.write(Data("note: quotas.postgres-decisions needs --database, --owner-database and --pgbench; scripts/bench provides them\n".utf8))
    }
    return comparisons
}

/// Runs `decide` in a loop and returns the median decisions per second over `rounds`.
private func decisionsPerSecond(rounds: Int, decisions: Int, _ decide: () async throws -> Void) async throws -> Double {
    for _ in 0..<min(decisions, 1_000) { try await decide() }
    let clock = ContinuousClock()
    var rates: [Double] = []
    for _ in 0..<rounds {
        let elapsed = try await clock.measure {
            for _ in 0..<decisions { try await decide() }
        }
        rates.append(Double(decisions) / (elapsed.nanoseconds / 1e9))
    }
    return median(rates)
}

private func pythonLimitsRate(python: String, decisions: Int, rounds: Int) throws -> (rate: Double, version: String) {
    let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/lib/limits_baseline.py")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script.path, String(decisions), String(rounds)]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    struct Result: Decodable {
        let decisions_per_second: Double
        let version: String
    }
    guard process.terminationStatus == 0, let result = try? JSONDecoder().decode(Result.self, from: data) else {
        throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "the Python limits baseline failed; install it with scripts/bench"])
    }
    return (result.decisions_per_second, result.version)
}
