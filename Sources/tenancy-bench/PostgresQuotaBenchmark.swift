import Foundation
import Tenancy
import TenancyPostgres

/// Where the PostgreSQL part of the `quotas` scenario connects, and how.
struct PostgresQuotaBenchmarkOptions {
    /// The application role's URL.
    let database: String
    /// The owner role's URL, which installs the bench's schema and drops it afterwards.
    let ownerDatabase: String
    /// The `pgbench` executable.
    let pgbench: String
    /// Concurrent tasks on our side and clients on pgbench's.
    let clients: Int
    /// A superuser's URL, which creates the C binding check for the postgres scenario's
    /// `verified` lines; without it only the PL/pgSQL and trusted lines run.
    var adminDatabase: String? = nil
}

/// `quotas.postgres-decisions`: quota decisions per second through `QuotaManager` and
/// `PostgresQuotaStore` from `clients` concurrent tasks, against `pgbench` running the store's
/// charge statement with the same arguments from the same number of clients (`-M prepared`,
/// as the library's per-connection statement cache). Both sides charge one counter with a limit it
/// never reaches, so every decision locks and updates the same row. Rounds alternate, after a
/// warm-up, and each side's median is reported.
func benchmarkPostgresQuotas(rounds: Int, options: PostgresQuotaBenchmarkOptions) async throws -> Comparison {
    let schema = try PostgresQuotaSchema(name: "tenancy_bench_\(UUID().uuidString.prefix(8).lowercased())")
    let owner = try PostgresDatabase(url: options.ownerDatabase, maximumConnections: 1)
    let database = try PostgresDatabase(url: options.database, maximumConnections: options.clients)
    try await schema.install(owner: owner, applicationRole: database.configuration.user)
    do {
        let comparison = try await compare(rounds: rounds, options: options, schema: schema, database: database)
        await database.close()
        try await owner.execute("DROP SCHEMA \(try PostgresIdentifier.quoted(schema.name)) CASCADE")
        await owner.close()
        return comparison
    } catch {
        await database.close()
        _ = try? await owner.execute("DROP SCHEMA \(try PostgresIdentifier.quoted(schema.name)) CASCADE")
        await owner.close()
        throw error
    }
}

private func compare(
    rounds: Int, options: PostgresQuotaBenchmarkOptions, schema: PostgresQuotaSchema, database: PostgresDatabase
) async throws -> Comparison {
    let limit = 1_000_000_000_000
    let store = try await PostgresQuotaStore(database: database, schema: schema)
    let clock = FrozenClock(instant: Date())
    let quotas = try QuotaManager(QuotaConfig(limits: [QuotaLimit(name: "debates", limit: limit, period: .day)]), store: store, clock: clock)
    let tenant: TenantID = "bench-tenant"

    // The line the manager charges, so pgbench binds the same values.
    let window = QuotaPeriod.day.window(containing: clock.now(), in: TimeZone(identifier: "UTC")!)
    let line = QuotaChargeLine(
        key: QuotaCounterKey(subject: .tenant(tenant), quota: "debates", period: .day), window: window, amount: 1, limit: limit)
    let pgbench = try PgbenchRun(options: options, sql: store.chargeSQL, arguments: try PostgresQuotaStore.chargeArguments([line]))
    defer { pgbench.remove() }

    let perClient = 500
    let decisions = perClient * options.clients
    let ours: () async throws -> Void = {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<options.clients {
                group.addTask {
                    for _ in 0..<perClient {
                        try await quotas.checkAndIncrement("debates", tenantID: tenant)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    // Warm-up: open every connection and let both sides plan the statement once.
    try await ours()
    _ = try pgbench.run(transactionsPerClient: perClient / 5)

    var oursRates: [Double] = []
    var pgbenchRates: [Double] = []
    let timer = ContinuousClock()
    for round in 0..<rounds {
        // Alternate which side goes first, so drift on a shared machine hits both equally.
        if round % 2 == 1 { pgbenchRates.append(try pgbench.run(transactionsPerClient: perClient)) }
        let elapsed = try await timer.measure { try await ours() }
        oursRates.append(Double(decisions) / (elapsed.nanoseconds / 1e9))
        if round % 2 == 0 { pgbenchRates.append(try pgbench.run(transactionsPerClient: perClient)) }
    }
    return Comparison(
        name: "quotas.postgres-decisions", ours: median(oursRates), baseline: median(pgbenchRates), unit: "decisions/s",
        baselineName: "pgbench \(pgbench.version) running the same charge statement, \(options.clients) clients, -M prepared",
        direction: .higherIsBetter)
}

/// A clock that always reads one instant, so the statement pgbench runs charges the window
/// the manager charges.
private struct FrozenClock: TenancyClock {
    let instant: Date

    func now() -> Date { instant }
}

/// A benchmark that could not run, with what to fix.
struct BenchmarkError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
