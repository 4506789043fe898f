import Foundation
import Tenancy
import TenancySQLite

/// `isolation`: a tenant's point select, range select and inserts through the isolation layer
/// (lexer check, filtering view, triggers, authorizer) against the same statements
/// hand-written with `WHERE tenant_id = ?` on an unprotected copy of the table.
///
/// Both sides run on the writer connection inside one transaction per batch, so the queue hop
/// that every call pays equally is outside the measurement, and both build each statement the
/// same way (an interpolated `SQLiteQuery`), so the ratio shows the layer's own cost.
func benchmarkIsolation(rounds: Int) async throws -> [Comparison] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }

    let database = try SQLiteDatabase(path: directory.appendingPathComponent("isolation.sqlite").path, synchronous: "NORMAL")
    let manager = try await TenantManager.sqlite(database)
    let tenants = try await SQLiteTenantDatabase(database)
    let schema = "(tenant_id TEXT NOT NULL, id TEXT NOT NULL, title TEXT NOT NULL DEFAULT 'untitled', rounds INTEGER NOT NULL DEFAULT 3, PRIMARY KEY (tenant_id, id)) WITHOUT ROWID"
    try await database.write { connection in
        try connection.execute("CREATE TABLE debates \(schema)")
        try connection.execute("CREATE TABLE debates_plain \(schema)")
    }
    try await manager.withPlatformScope(reason: "benchmark schema") {
        try await tenants.protect(table: "debates")
    }

    let tenantCount = 100
    let rowsPerTenant = 1_000
    try await database.write { connection in
        for tenant in 0..<tenantCount {
            for row in 0..<rowsPerTenant {
                let values: [SQLiteValue] = [.text("bench-\(tenant)"), .text(rowID(row)), .text("Debate \(row)")]
                try connection.execute("INSERT INTO \"debates$rows\" (tenant_id, id, title) VALUES (?, ?, ?)", values)
                try connection.execute("INSERT INTO debates_plain (tenant_id, id, title) VALUES (?, ?, ?)", values)
            }
        }
    }

    let tenant = Tenant(id: "bench-42", name: "Bench 42", tier: .business)
    let handle = try await tenants.handle(for: tenant)
    let selectsPerRound = 2_000
    let tenantValue = SQLiteValue.text(tenant.id.rawValue)

    let point = try await measureAlternating(
        rounds: rounds, operationsPerRound: selectsPerRound,
        ours: {
            try await handle.transaction { transaction in
                for index in 0..<selectsPerRound {
                    _ = try transaction.query("SELECT id, title, rounds FROM debates WHERE id = \(rowID(index % rowsPerTenant))")
                }
            }
        },
        baseline: {
            try await database.write { connection in
                for index in 0..<selectsPerRound {
                    let query: SQLiteQuery = "SELECT id, title, rounds FROM debates_plain WHERE tenant_id = \(tenantValue) AND id = \(rowID(index % rowsPerTenant))"
                    _ = try connection.query(query.sql, query.bindings)
                }
            }
        })

    let rangesPerRound = 200
    let range = try await measureAlternating(
        rounds: rounds, operationsPerRound: rangesPerRound,
        ours: {
            try await handle.transaction { transaction in
                for index in 0..<rangesPerRound {
                    let start = (index * 37) % (rowsPerTenant - 50)
                    _ = try transaction.query("SELECT id, title, rounds FROM debates WHERE id >= \(rowID(start)) AND id < \(rowID(start + 50)) ORDER BY id")
                }
            }
        },
        baseline: {
            try await database.write { connection in
                for index in 0..<rangesPerRound {
                    let start = (index * 37) % (rowsPerTenant - 50)
                    let query: SQLiteQuery =
                        "SELECT id, title, rounds FROM debates_plain WHERE tenant_id = \(tenantValue) AND id >= \(rowID(start)) AND id < \(rowID(start + 50)) ORDER BY id"
                    _ = try connection.query(query.sql, query.bindings)
                }
            }
        })

    var insertCounter = 0
    var baselineCounter = 0
    let singleInsertsPerRound = 300
    let single = try await measureAlternating(
        rounds: rounds, operationsPerRound: singleInsertsPerRound,
        ours: {
            for _ in 0..<singleInsertsPerRound {
                insertCounter += 1
                let id = "new-\(insertCounter)"
                try await handle.transaction { transaction in
                    _ = try transaction.execute("INSERT INTO debates (id, title) VALUES (\(id), 'new')")
                }
            }
        },
        baseline: {
            for _ in 0..<singleInsertsPerRound {
                baselineCounter += 1
                let query: SQLiteQuery = "INSERT INTO debates_plain (tenant_id, id, title) VALUES (\(tenantValue), \("new-\(baselineCounter)"), 'new')"
                try await database.write { connection in
                    _ = try connection.execute(query.sql, query.bindings)
                }
            }
        })

    let batch = 1_000
    var batchCounter = 0
    var baselineBatchCounter = 0
    let batched = try await measureAlternating(
        rounds: rounds, operationsPerRound: batch,
        ours: {
            batchCounter += 1
            let prefix = "batch-\(batchCounter)-"
            try await handle.transaction { transaction in
                for index in 0..<batch {
                    _ = try transaction.execute("INSERT INTO debates (id, title) VALUES (\(prefix + String(index)), 'new')")
                }
            }
        },
        baseline: {
            baselineBatchCounter += 1
            let prefix = "batch-\(baselineBatchCounter)-"
            try await database.write { connection in
                for index in 0..<batch {
                    let query: SQLiteQuery = "INSERT INTO debates_plain (tenant_id, id, title) VALUES (\(tenantValue), \(prefix + String(index)), 'new')"
                    _ = try connection.execute(query.sql, query.bindings)
                }
            }
        })

    let baselineName = "the same statement hand-written with WHERE tenant_id = ? on an unprotected copy"
    return [
        Comparison(name: "isolation.point-select", ours: point.ours / 1_000, baseline: point.baseline / 1_000, unit: "us/op", baselineName: baselineName, direction: .lowerIsBetter),
        Comparison(name: "isolation.range-select-50", ours: range.ours / 1_000, baseline: range.baseline / 1_000, unit: "us/op", baselineName: baselineName, direction: .lowerIsBetter),
        Comparison(name: "isolation.insert-1-per-transaction", ours: single.ours / 1_000, baseline: single.baseline / 1_000, unit: "us/op", baselineName: baselineName, direction: .lowerIsBetter),
        Comparison(name: "isolation.insert-1000-per-transaction", ours: batched.ours / 1_000, baseline: batched.baseline / 1_000, unit: "us/row", baselineName: baselineName, direction: .lowerIsBetter),
    ]
}

/// A sortable row id: `r0000` to `r0999`.
private func rowID(_ number: Int) -> String {
    "r" + String(repeating: "0", count: max(0, 4 - String(number).count)) + String(number)
}
