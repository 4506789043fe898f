import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

/// Random SELECT, INSERT, UPDATE and DELETE statements over two protected tables, run as random
/// tenants and compared with an in-memory model of each tenant's rows. Every read must equal
/// the model of the tenant that ran it, every write aimed at another tenant must be denied, and
/// at the end every stored row must belong to the tenant that wrote it.
///
/// `swift test` runs 600 statements. Set `TENANCY_FUZZ_STATEMENTS` (for example 100000) and
/// `TENANCY_FUZZ_SEED` for a longer or repeated run.
@Suite("SQLite isolation fuzz")
struct SQLiteIsolationFuzzTests {
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// The expected rows of one table: tenant, then id, then title.
    typealias Model = [TenantID: [String: String]]

    @Test("random statements never cross tenants")
    func fuzz() async throws {
        let environment = ProcessInfo.processInfo.environment
        let statements = environment["TENANCY_FUZZ_STATEMENTS"].flatMap(Int.init) ?? 600
        let seed = environment["TENANCY_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max / 2)
        var random = SeededGenerator(state: seed)
        let fixture = try await IsolationFixture()
        defer { fixture.remove() }
        let tenantIDs: [TenantID] = ["fuzz-one", "fuzz-two", "fuzz-three", "fuzz-four"]
        var handles: [TenantID: SQLiteTenantHandle] = [:]
        for id in tenantIDs {
            let tenant = try await fixture.manager.createTenant(name: "Fuzz \(id)", tier: .free, adminEmail: "f@fuzz.example", id: id)
            handles[id] = try await fixture.handle(tenant)
        }
        try await fixture.database.write { connection in
            _ = try connection.execute("DELETE FROM \"debates$rows\"")
            _ = try connection.execute("DELETE FROM \"topics$rows\"")
        }

        var debates: Model = [:]
        var topics: Model = [:]
        var counts = (reads: 0, writes: 0, denied: 0, conflicts: 0)
        let ids = (0..<12).map { "k\($0)" }

        for step in 0..<statements {
            let tenant = tenantIDs.randomElement(using: &random)!
            let other = tenantIDs.filter { $0 != tenant }.randomElement(using: &random)!
            let handle = handles[tenant]!
            let useTopics = Bool.random(using: &random)
            let table = useTopics ? "topics" : "debates"
            let column = useTopics ? "name" : "title"
            let id = ids.randomElement(using: &random)!
            let title = "\(tenant):\(step)"
            var model = useTopics ? topics : debates
            let context = "seed \(seed), step \(step), tenant \(tenant), table \(table)"

            switch Int.random(in: 0..<10, using: &random) {
            case 0...2:
                let expected = (model[tenant] ?? [:]).sorted { $0.key < $1.key }.map { "\(tenant)|\($0.key)|\($0.value)" }
                let shapes = [
                    "SELECT tenant_id, id, \(column) AS v FROM \(table) ORDER BY id",
                    "SELECT tenant_id, id, \(column) AS v FROM (SELECT * FROM \(table)) ORDER BY id",
                    "WITH rows AS (SELECT * FROM \(table)) SELECT tenant_id, id, \(column) AS v FROM rows ORDER BY id",
                    "SELECT tenant_id, id, \(column) AS v FROM \(table) WHERE id IN (SELECT id FROM \(table)) UNION SELECT tenant_id, id, \(column) FROM \(table) ORDER BY 2",
                ]
                let rows = try await handle.query(SQLiteQuery(unsafeSQL: shapes.randomElement(using: &random)!))
                let seen = try rows.map { "\(try $0.text("tenant_id"))|\(try $0.text("id"))|\(try $0.text("v"))" }
                #expect(seen == expected, "\(context)")
                let count = try await handle.query(SQLiteQuery(unsafeSQL: "SELECT count(*) AS n FROM \(table)"))[0].integer("n")
                #expect(count == Int64(expected.count), "\(context)")
                counts.reads += 1
            case 3...4:
                let form = Int.random(in: 0..<4, using: &random)
                let exists = model[tenant]?[id] != nil
                switch form {
                case 0:
                    let error = await isolationError {
                        try await handle.execute("INSERT INTO \(unsafeSQL: table) (tenant_id, id, \(unsafeSQL: column)) VALUES (\(other), \(id), \(title))")
                    }
                    #expect(error?.code == .denied, "\(context)")
                    counts.denied += 1
                case 1:
                    try await handle.execute("INSERT OR REPLACE INTO \(unsafeSQL: table) (id, \(unsafeSQL: column)) VALUES (\(id), \(title))")
                    model[tenant, default: [:]][id] = title
                case 2:
                    try await handle.execute("INSERT OR IGNORE INTO \(unsafeSQL: table) (id, \(unsafeSQL: column)) VALUES (\(id), \(title))")
                    if !exists { model[tenant, default: [:]][id] = title }
                default:
                    do {
                        try await handle.execute("INSERT INTO \(unsafeSQL: table) (tenant_id, id, \(unsafeSQL: column)) VALUES (\(tenant), \(id), \(title))")
                        #expect(!exists, "\(context): a duplicate key was inserted")
                        model[tenant, default: [:]][id] = title
                    } catch let error as SQLiteError where error.code.primary == .constraint {
                        #expect(exists, "\(context): \(error)")
                        counts.conflicts += 1
                    }
                }
                counts.writes += 1
            case 5...6:
                if Bool.random(using: &random) {
                    // Re-homing a row the tenant owns is denied; with no such row nothing runs.
                    let ownsRow = model[tenant]?[id] != nil
                    do {
                        let changed = try await handle.execute("UPDATE \(unsafeSQL: table) SET tenant_id = \(other) WHERE id = \(id)")
                        #expect(!ownsRow, "\(context): a row was re-homed")
                        #expect(changed == 0, "\(context)")
                    } catch let error as IsolationError {
                        #expect(ownsRow, "\(context): \(error)")
                        #expect(error.code == .denied, "\(context)")
                        counts.denied += 1
                    }
                } else {
                    let all = Bool.random(using: &random)
                    let changed = all
                        ? try await handle.execute("UPDATE \(unsafeSQL: table) SET \(unsafeSQL: column) = \(title)")
                        : try await handle.execute("UPDATE \(unsafeSQL: table) SET \(unsafeSQL: column) = \(title) WHERE id = \(id)")
                    let targets = all ? Array((model[tenant] ?? [:]).keys) : (model[tenant]?[id] != nil ? [id] : [])
                    #expect(changed == targets.count, "\(context)")
                    for target in targets { model[tenant]![target] = title }
                }
                counts.writes += 1
            default:
                let all = Int.random(in: 0..<5, using: &random) == 0
                let removed = all
                    ? try await handle.execute("DELETE FROM \(unsafeSQL: table)")
                    : try await handle.execute("DELETE FROM \(unsafeSQL: table) WHERE id = \(id)")
                let targets = all ? (model[tenant]?.count ?? 0) : (model[tenant]?[id] != nil ? 1 : 0)
                #expect(removed == targets, "\(context)")
                if all { model[tenant] = [:] } else { model[tenant]?[id] = nil }
                counts.writes += 1
            }
            if useTopics { topics = model } else { debates = model }
        }

        for (table, column, model) in [("debates", "title", debates), ("topics", "name", topics)] {
            let stored = try await fixture.database.read { connection in
                try connection.query("SELECT tenant_id, id, \(column) AS v FROM \"\(table)$rows\" ORDER BY tenant_id, id")
                    .map { "\(try $0.text("tenant_id"))|\(try $0.text("id"))|\(try $0.text("v"))" }
            }
            let expected = model.keys.sorted().flatMap { tenant in
                model[tenant]!.sorted { $0.key < $1.key }.map { "\(tenant)|\($0.key)|\($0.value)" }
            }
            #expect(stored == expected, "seed \(seed): stored rows of \(table) differ from the model")
            for row in stored {
                let parts = row.split(separator: "|")
                #expect(parts[2].hasPrefix(parts[0] + ":"), "seed \(seed): \(table) row \(row) was written by another tenant")
            }
        }
        print("isolation fuzz: seed \(seed), \(statements) statements, \(counts.reads) reads, \(counts.writes) writes, \(counts.denied) denied, \(counts.conflicts) key conflicts")
    }
}
