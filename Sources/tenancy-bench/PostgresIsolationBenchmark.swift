import Foundation
import Tenancy
import TenancyPostgres

/// `postgres`: a tenant's point select and 50-row range select through
/// `PostgresTenantHandle`, for the verified binding with the C check (when a superuser URL is
/// given to create it), the verified binding with the PL/pgSQL check, and the trusted binding.
/// The handle sends the binding and the statement in one pipeline, and row-level security
/// filters by tenant. The baseline is the same statement hand-written with
/// `WHERE tenant_id = $1` on an unprotected copy of the table, through the same pool from the
/// same number of concurrent tasks. The hand-written statement is also compared with `pgbench`
/// running it on the copy with as many clients.
///
/// The library's hand-written side sends one statement per round trip without pipelining,
/// so pgbench runs without `\startpipeline` too. Our sides pick a random tenant and row per
/// statement; pgbench picks a random row per statement and one random tenant per run, because
/// its `\set` makes only numbers and the tenant ids are text.
func benchmarkPostgresIsolation(rounds: Int, options: PostgresQuotaBenchmarkOptions) async throws -> [Comparison] {
    let owner = try PostgresDatabase(url: options.ownerDatabase, maximumConnections: 1)
    let admin = try options.adminDatabase.map { try PostgresDatabase(url: $0, maximumConnections: 1) }
    let database = try PostgresDatabase(url: options.database, maximumConnections: options.clients)
    let suffix = UUID().uuidString.prefix(8).lowercased()
    var modes: [(suffix: String, binding: PostgresTenantBinding, check: PostgresBindingCheck)] = []
    if admin != nil {
        modes.append(("verified", .verified(.generate()), .library))
    }
    modes += [("verified-plpgsql", .verified(.generate()), .plpgsql), ("trusted", .trusted, .trusted)]
    let schemas = try modes.map { mode in
        try PostgresRowLevelSecurity(schema: "tenancy_bench_\(mode.suffix.replacingOccurrences(of: "-", with: "_"))_\(suffix)")
    }
    do {
        var installed: [BenchTables] = []
        for (mode, rls) in zip(modes, schemas) {
            if mode.check == .library, let admin {
                try await rls.installBindingLibrary(admin: admin, owner: owner.configuration.user)
            }
            installed.append(try await installBenchTables(rls, name: mode.suffix, binding: mode.binding, expecting: mode.check, owner: owner, database: database))
        }
        let comparisons = try await compareSelects(rounds: rounds, options: options, database: database, modes: installed)
        await database.close()
        try await dropBenchSchemas(schemas, owner: owner)
        await owner.close()
        await admin?.close()
        return comparisons
    } catch {
        await database.close()
        try? await dropBenchSchemas(schemas, owner: owner)
        await owner.close()
        await admin?.close()
        throw error
    }
}

private let benchTenantCount = 100
private let benchRowsPerTenant = 1_000
private let rangeLength = 50

/// One binding mode's installation: the protected table, its unprotected copy, and the
/// tenant handles.
private struct BenchTables {
    /// The line's name after the shape: `verified`, `verified-plpgsql` or `trusted`.
    let name: String
    let protected: String
    let copy: String
    let handles: [PostgresTenantHandle]
}

private func benchTenantID(_ number: Int) -> TenantID {
    try! TenantID(validating: "tenant-\(number)")
}

/// Installs row-level security in `rls.schema` with `binding`, creates and fills `rows` and
/// its unprotected copy `rows_copy` there (100 tenants x 1,000 rows each), and protects `rows`.
private func installBenchTables(
    _ rls: PostgresRowLevelSecurity, name: String, binding: PostgresTenantBinding, expecting check: PostgresBindingCheck,
    owner: PostgresDatabase, database: PostgresDatabase
) async throws -> BenchTables {
    let applicationRole = database.configuration.user
    try await rls.install(owner: owner, applicationRole: applicationRole, binding: binding)
    let schema = try PostgresIdentifier.quoted(rls.schema)
    let protected = "\(schema).rows"
    let copy = "\(schema).rows_copy"
    for table in [protected, copy] {
        // The rows go in before `protect`, because forced row-level security would check the
        // owner's inserts against a binding it does not set.
        try await owner.execute("""
            CREATE TABLE \(table) (tenant_id text COLLATE "C" NOT NULL, id bigint NOT NULL, body text NOT NULL, PRIMARY KEY (tenant_id, id))
            """)
        try await owner.execute("""
            INSERT INTO \(table) (tenant_id, id, body)
            SELECT 'tenant-' || t, i, 'row ' || i || ' of tenant ' || t
            FROM generate_series(0, \(benchTenantCount - 1)) AS t, generate_series(1, \(benchRowsPerTenant)) AS i
            """)
        try await owner.execute("ANALYZE \(table)")
    }
    try await owner.execute("GRANT SELECT ON \(copy) TO \(try PostgresIdentifier.quoted(applicationRole))")
    try await rls.protect(table: "rows", schema: rls.schema, owner: owner, applicationRole: applicationRole)

    let tenants = try await PostgresTenantDatabase(database, binding: binding, rowLevelSecurity: rls)
    guard tenants.bindingCheck == check else {
        throw BenchmarkError("the \(name) line expected the \(check.displayName), the database runs the \(tenants.bindingCheck.displayName)")
    }
    let createdAt = Date()
    var handles: [PostgresTenantHandle] = []
    for number in 0..<benchTenantCount {
        let tenant = Tenant(
            id: benchTenantID(number), name: "Tenant \(number)", tier: .free, adminEmail: "owner@tenant-\(number).example", createdAt: createdAt)
        handles.append(try await tenants.handle(for: tenant))
    }
    return BenchTables(name: name, protected: protected, copy: copy, handles: handles)
}

private func dropBenchSchemas(_ schemas: [PostgresRowLevelSecurity], owner: PostgresDatabase) async throws {
    for rls in schemas {
        try await owner.execute("DROP SCHEMA IF EXISTS \(try PostgresIdentifier.quoted(rls.schema)) CASCADE")
    }
}

/// One select shape: the statement through a tenant handle, the hand-written statement, and
/// the pgbench script of the hand-written statement.
private struct SelectShape: Sendable {
    let name: String
    /// The statement on the protected table, with `$1` the first id.
    let protectedSQL: @Sendable (String) -> String
    /// The statement on the copy, with `$1` the tenant and `$2` the first id.
    let copySQL: @Sendable (String) -> String
    /// The pgbench script on the copy, using `:tenant` from `-D`.
    let pgbenchScript: @Sendable (String) -> String
    /// The rows each statement returns.
    let rowCount: Int
    /// The largest first id.
    let maximumID: Int
}

private let selectShapes = [
    SelectShape(
        name: "point-select",
        protectedSQL: { "SELECT id, body FROM \($0) WHERE id = $1" },
        copySQL: { "SELECT id, body FROM \($0) WHERE tenant_id = $1 AND id = $2" },
        pgbenchScript: { "\\set id random(1, \(benchRowsPerTenant))\nSELECT id, body FROM \($0) WHERE tenant_id = :tenant AND id = :id;\n" },
        rowCount: 1, maximumID: benchRowsPerTenant),
    SelectShape(
        name: "range-select-\(rangeLength)",
        protectedSQL: { "SELECT id, body FROM \($0) WHERE id >= $1 AND id < $1 + \(rangeLength) ORDER BY id" },
        copySQL: { "SELECT id, body FROM \($0) WHERE tenant_id = $1 AND id >= $2 AND id < $2 + \(rangeLength) ORDER BY id" },
        pgbenchScript: {
            "\\set id random(1, \(benchRowsPerTenant - rangeLength + 1))\n"
                + "SELECT id, body FROM \($0) WHERE tenant_id = :tenant AND id >= :id AND id < :id + \(rangeLength) ORDER BY id;\n"
        },
        rowCount: rangeLength, maximumID: benchRowsPerTenant - rangeLength + 1),
]

private func compareSelects(
    rounds: Int, options: PostgresQuotaBenchmarkOptions, database: PostgresDatabase, modes: [BenchTables]
) async throws -> [Comparison] {
    var comparisons: [Comparison] = []
    for shape in selectShapes {
        comparisons += try await compare(shape, rounds: rounds, options: options, database: database, modes: modes)
    }
    return comparisons
}

/// Runs `perClient` statements on each of `clients` concurrent tasks and returns statements
/// per second. `statement` gets a random tenant number and first id.
private func statementsPerSecond(
    clients: Int, perClient: Int, maximumID: Int, _ statement: @escaping @Sendable (Int, Int) async throws -> Void
) async throws -> Double {
    let elapsed = try await ContinuousClock().measure {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var generator = SystemRandomNumberGenerator()
                    for _ in 0..<perClient {
                        try await statement(
                            Int.random(in: 0..<benchTenantCount, using: &generator), Int.random(in: 1...maximumID, using: &generator))
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    return Double(clients * perClient) / (elapsed.nanoseconds / 1e9)
}

private func compare(
    _ shape: SelectShape, rounds: Int, options: PostgresQuotaBenchmarkOptions, database: PostgresDatabase, modes: [BenchTables]
) async throws -> [Comparison] {
    let expectedRows = shape.rowCount
    func throughHandle(_ tables: BenchTables) -> @Sendable (Int, Int) async throws -> Void {
        let sql = shape.protectedSQL(tables.protected)
        let handles = tables.handles
        return { tenant, id in
            let rows = try await handles[tenant].query(PostgresQuery(unsafeSQL: sql, arguments: [.integer(Int64(id))]))
            guard rows.count == expectedRows else {
                throw BenchmarkError("a tenant handle returned \(rows.count) rows, expected \(expectedRows), so the binding did not verify or the table is not filled")
            }
        }
    }
    let copySQL = shape.copySQL(modes[0].copy)
    let handWritten: @Sendable (Int, Int) async throws -> Void = { tenant, id in
        let rows = try await database.query(copySQL, [.text(benchTenantID(tenant).rawValue), .integer(Int64(id))])
        guard rows.count == expectedRows else {
            throw BenchmarkError("the hand-written statement returned \(rows.count) rows, expected \(expectedRows)")
        }
    }
    // The binding modes' sides, then the hand-written one; pgbench is the index after them.
    let sides = modes.map(throughHandle) + [handWritten]
    let handWrittenIndex = modes.count
    let pgbenchIndex = sides.count
    let pgbench = try PgbenchRun(options: options, script: shape.pgbenchScript(modes[0].copy))
    defer { pgbench.remove() }
    func runPgbench(transactionsPerClient: Int) throws -> Double {
        try pgbench.run(
            transactionsPerClient: transactionsPerClient,
            extraVariables: ["-D", "tenant=\(benchTenantID(Int.random(in: 0..<benchTenantCount)).rawValue)"])
    }

    let perClient = 400
    // Warm-up: open every connection, and let every side plan its statements.
    for side in sides {
        _ = try await statementsPerSecond(clients: options.clients, perClient: perClient / 4, maximumID: shape.maximumID, side)
    }
    _ = try runPgbench(transactionsPerClient: perClient / 4)

    // Each round starts with a different side, so drift on a shared machine hits all of them
    // alike.
    var rates: [[Double]] = Array(repeating: [], count: sides.count + 1)
    for round in 0..<rounds {
        for step in 0...sides.count {
            let side = (round + step) % (sides.count + 1)
            if side == pgbenchIndex {
                rates[side].append(try runPgbench(transactionsPerClient: perClient))
            } else {
                rates[side].append(try await statementsPerSecond(clients: options.clients, perClient: perClient, maximumID: shape.maximumID, sides[side]))
            }
        }
    }
    let handWrittenRate = median(rates[handWrittenIndex])
    let handWrittenName = "the statement hand-written with WHERE tenant_id = $1 on an unprotected copy, same pool, \(options.clients) tasks"
    var comparisons = modes.enumerated().map { index, mode in
        Comparison(
            name: "postgres.\(shape.name)-\(mode.name)", ours: median(rates[index]), baseline: handWrittenRate, unit: "statements/s",
            baselineName: handWrittenName, direction: .higherIsBetter)
    }
    comparisons.append(
        Comparison(
            name: "postgres.\(shape.name)-hand-written", ours: handWrittenRate, baseline: median(rates[pgbenchIndex]), unit: "statements/s",
            baselineName: "pgbench \(pgbench.version) running the hand-written statement, \(options.clients) clients, -M prepared, no pipeline",
            direction: .higherIsBetter))
    return comparisons
}
