// A child process for the crash and multi-process tests; not installed as a product.
//
// Commands (all take --database PATH). `create` and `list` also accept --database
// postgres://URL with --schema NAME, a registry schema the caller installed; `quota-charge`
// and `lease-hold` accept the same options for a quota schema the caller installed.
//   seed --tenant ID --rows N         create the tenant and N rows in each worker table
//   purge --tenant ID                 delete the tenant with purge; print the receipt as JSON
//   create --name NAME --count N      create N tenants with this name; print one id a line
//   list                              print the id of every tenant, one a line, in id order
//   quota-charge --tenant ID --limit N --tasks T --charges C
//                                     charge the daily quota `jobs` (limit N) from T tasks, C
//                                     times each; print `admitted=<count>`
//   lease-hold --tenant ID --ttl-ms N acquire a `concurrent_debates` lease (limit 1) with this
//                                     time-to-live; print its id and exit without releasing it
//
// The purge command registers three purgers over the worker tables, so TENANCY_FAULT can stop
// the job between any two of them.
import Foundation
import Tenancy
import TenancyPostgres
import TenancySQLite

/// Removes a tenant's rows from one worker table.
struct TableRowsPurger: TenantPurger {
    let database: SQLiteDatabase
    let table: String

    var name: String { table }

    func purge(_ tenantID: TenantID) async throws -> Int {
        let sql = "DELETE FROM \(table) WHERE tenant_id = ?"
        return try await database.write { connection in
            try connection.execute(sql, [.text(tenantID.rawValue)])
        }
    }
}

let workerTables = ["worker_items_a", "worker_items_b", "worker_items_c"]

func option(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

guard CommandLine.arguments.count >= 2, let path = option("--database") else {
    fail("usage: tenancy-test-worker seed|purge|create|list|quota-charge|lease-hold --database PATH [options]")
}

/// Prints the id of every tenant in the registry, one a line, in id order.
func listTenants(_ manager: TenantManager) async throws {
    var after: TenantID?
    while true {
        let page = try await manager.listTenants(after: after, limit: 1_000)
        for tenant in page.tenants {
            print(tenant.id.rawValue)
        }
        guard let cursor = page.nextCursor else { break }
        after = cursor
    }
}

/// Charges the daily quota `jobs` from `--tasks` tasks, `--charges` times each, and prints
/// `admitted=<count>`.
func chargeQuota(store: any QuotaStore) async throws {
    guard let id = option("--tenant"), let limit = option("--limit").flatMap(Int.init),
        let tasks = option("--tasks").flatMap(Int.init), let charges = option("--charges").flatMap(Int.init)
    else { fail("quota-charge needs --tenant, --limit, --tasks and --charges") }
    let tenantID = try TenantID(validating: id)
    let quotas = try QuotaManager(QuotaConfig(limits: [QuotaLimit(name: "jobs", limit: limit, period: .day)]), store: store)
    let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<tasks {
            group.addTask {
                var admitted = 0
                for _ in 0..<charges {
                    do {
                        try await quotas.checkAndIncrement("jobs", tenantID: tenantID)
                        admitted += 1
                    } catch is QuotaExceeded {}
                }
                return admitted
            }
        }
        var total = 0
        for try await count in group {
            total += count
        }
        return total
    }
    print("admitted=\(admitted)")
}

/// Acquires a `concurrent_debates` lease (limit 1) and prints its id without releasing it.
func holdLease(store: any QuotaStore) async throws {
    guard let id = option("--tenant"), let ttl = option("--ttl-ms").flatMap(Int.init) else { fail("lease-hold needs --tenant and --ttl-ms") }
    let quotas = try QuotaManager(QuotaConfig(leaseLimits: [QuotaLeaseLimit(name: QuotaCatalog.concurrentDebates, limit: 1)]), store: store)
    let lease = try await quotas.acquire(tenantID: try TenantID(validating: id), timeToLive: .milliseconds(ttl))
    print(lease.id.uuidString)
}

if path.hasPrefix("postgres://") || path.hasPrefix("postgresql://") {
    guard let schemaName = option("--schema") else { fail("a postgres:// database needs --schema NAME") }
    // Sized for quota-charge, whose tasks all wait on one counter row.
    let database = try PostgresDatabase(url: path, maximumConnections: 8)
    switch CommandLine.arguments[1] {
    case "quota-charge":
        try await chargeQuota(store: try await PostgresQuotaStore(database: database, schema: try PostgresQuotaSchema(name: schemaName)))
        await database.close()
        exit(0)
    case "lease-hold":
        try await holdLease(store: try await PostgresQuotaStore(database: database, schema: try PostgresQuotaSchema(name: schemaName)))
        await database.close()
        exit(0)
    default:
        break
    }
    let manager = try await TenantManager.postgres(database, schema: try PostgresRegistrySchema(name: schemaName))
    switch CommandLine.arguments[1] {
    case "create":
        guard let name = option("--name"), let count = option("--count").flatMap(Int.init) else { fail("create needs --name and --count") }
        for _ in 0..<count {
            let tenant = try await manager.createTenant(name: name, tier: .free, adminEmail: "owner@worker.example")
            print(tenant.id.rawValue)
        }
    case "list":
        try await listTenants(manager)
    default:
        fail("unknown command '\(CommandLine.arguments[1])' for a postgres:// database: expected create, list, quota-charge or lease-hold")
    }
    await database.close()
    exit(0)
}

// A long busy timeout, because the multi-process quota test runs four writers at once.
let database = try SQLiteDatabase(path: path, busyTimeout: .seconds(120))
try await database.write { connection in
    for table in workerTables {
        try connection.execute("CREATE TABLE IF NOT EXISTS \(table) (tenant_id TEXT NOT NULL, item INTEGER NOT NULL)")
    }
}
let manager = try await TenantManager.sqlite(
    database, purgers: workerTables.map { TableRowsPurger(database: database, table: $0) })

switch CommandLine.arguments[1] {
case "seed":
    guard let id = option("--tenant"), let rows = option("--rows").flatMap(Int.init) else { fail("seed needs --tenant and --rows") }
    let tenantID = try TenantID(validating: id)
    try await manager.createTenant(name: "Worker \(id)", tier: .starter, adminEmail: "owner@worker.example", id: tenantID)
    try await database.write { connection in
        for table in workerTables {
            for item in 0..<rows {
                try connection.execute("INSERT INTO \(table) (tenant_id, item) VALUES (?, ?)", [.text(id), .integer(Int64(item))])
            }
        }
    }
case "purge":
    guard let id = option("--tenant") else { fail("purge needs --tenant") }
    guard let receipt = try await manager.deleteTenant(try TenantID(validating: id), purgeData: true) else {
        fail("no receipt returned")
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.dateEncodingStrategy = .millisecondsSince1970
    print(String(decoding: try encoder.encode(receipt), as: UTF8.self))
case "create":
    guard let name = option("--name"), let count = option("--count").flatMap(Int.init) else { fail("create needs --name and --count") }
    for _ in 0..<count {
        let tenant = try await manager.createTenant(name: name, tier: .free, adminEmail: "owner@worker.example")
        print(tenant.id.rawValue)
    }
case "list":
    try await listTenants(manager)
case "quota-charge":
    try await chargeQuota(store: try await SQLiteQuotaStore(database: database))
case "lease-hold":
    try await holdLease(store: try await SQLiteQuotaStore(database: database))
default:
    fail("unknown command '\(CommandLine.arguments[1])': expected seed, purge, create, list, quota-charge or lease-hold")
}
