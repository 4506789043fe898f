// tenancy-bench: measures Tenancy against baselines run in the same process and the same run.
//
// Usage: tenancy-bench SCENARIO... [--rounds N] [--python PATH] [--database URL --owner-database URL
//        --pgbench PATH [--admin-database URL] [--clients N]] [--json]
// Scenarios: context, registry, isolation, postgres, quotas, all. Build in release mode: swift run -c release tenancy-bench all
import Foundation

let usage = """
    usage: tenancy-bench SCENARIO... [--rounds N] [--python PATH] [--database URL --owner-database URL
                         --pgbench PATH [--admin-database URL] [--clients N]] [--json]
      scenarios: context, registry, isolation, postgres, quotas, all (postgres only with --database)
      --rounds N              timed rounds per comparison, alternating ours and baseline (default 7)
      --python PATH           a Python interpreter with the limits package, for the quotas baseline
      --database URL          postgres:// URL of the application role, for the PostgreSQL lines
      --owner-database URL    postgres:// URL of the owner role, which creates and drops the bench schemas
      --pgbench PATH          the pgbench executable, the baseline of the postgres and PostgreSQL quota lines
      --admin-database URL    postgres:// URL of a superuser, which creates the C binding check for the
                              postgres scenario's verified lines; without it they are left out
      --clients N             concurrent tasks and pgbench clients for the PostgreSQL lines (default 8)
      --json                  print one JSON object per comparison instead of text lines
    """

var scenarios: [String] = []
var rounds = 7
var json = false
var python: String?
var database: String?
var ownerDatabase: String?
var pgbench: String?
var adminDatabase: String?
var clients = 8

/// Returns the value after an option, or exits with a usage error naming the option.
@MainActor func optionValue(_ option: String, _ expected: String) -> String {
    guard let value = arguments.popFirst(), !value.hasPrefix("--") else {
        FileHandle.standardError.write(Data("error: \(option) needs \(expected)\n\(usage)\n".utf8))
        exit(2)
    }
    return value
}
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--json":
        json = true
    case "--rounds":
        guard let value = arguments.popFirst().flatMap(Int.init), value >= 1 else {
            FileHandle.standardError.write(Data("error: invalid --rounds: expected a whole number of 1 or more\n\(usage)\n".utf8))
            exit(2)
        }
        rounds = value
    case "--python":
        guard let value = arguments.popFirst(), !value.hasPrefix("--") else {
            FileHandle.standardError.write(Data("error: --python needs the path of an interpreter\n\(usage)\n".utf8))
            exit(2)
        }
        python = value
    case "--database":
        database = optionValue(argument, "a postgres:// URL")
    case "--owner-database":
        ownerDatabase = optionValue(argument, "a postgres:// URL")
    case "--pgbench":
        pgbench = optionValue(argument, "the path of the pgbench executable")
    case "--admin-database":
        adminDatabase = optionValue(argument, "a postgres:// URL")
    case "--clients":
        guard let value = Int(optionValue(argument, "a number")), (1...64).contains(value) else {
            FileHandle.standardError.write(Data("error: invalid --clients: expected a whole number from 1 to 64\n\(usage)\n".utf8))
            exit(2)
        }
        clients = value
    case "--help", "-h":
        print(usage)
        exit(0)
    case "context", "registry", "isolation", "postgres", "quotas":
        scenarios.append(argument)
    case "all":
        scenarios += ["context", "registry", "isolation", "all-postgres", "quotas"]
    default:
        FileHandle.standardError.write(Data("error: unknown scenario or option '\(argument)'\n\(usage)\n".utf8))
        exit(2)
    }
}
if scenarios.isEmpty {
    FileHandle.standardError.write(Data("error: no scenario given\n\(usage)\n".utf8))
    exit(2)
}

// `all` runs the postgres scenario only when a server is given.
scenarios = scenarios.compactMap { scenario in
    scenario == "all-postgres" ? (database == nil ? nil : "postgres") : scenario
}
if (database == nil) != (ownerDatabase == nil) {
    FileHandle.standardError.write(Data("error: --database and --owner-database go together\n\(usage)\n".utf8))
    exit(2)
}
let needsPgbench = scenarios.contains("postgres") || (database != nil && scenarios.contains("quotas"))
if needsPgbench && (database == nil || pgbench == nil) {
    FileHandle.standardError.write(
        Data("error: the postgres scenario and the PostgreSQL quota line need --database, --owner-database and --pgbench\n\(usage)\n".utf8))
    exit(2)
}
var postgresOptions: PostgresQuotaBenchmarkOptions?
if let database, let ownerDatabase, let pgbench {
    postgresOptions = PostgresQuotaBenchmarkOptions(
        database: database, ownerDatabase: ownerDatabase, pgbench: pgbench, clients: clients, adminDatabase: adminDatabase)
}
let registryServer = database.flatMap { database in ownerDatabase.map { (database: database, owner: $0) } }

#if DEBUG
FileHandle.standardError.write(Data("warning: debug build; measure with `swift run -c release tenancy-bench`\n".utf8))
#endif

let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
for scenario in scenarios {
    let comparisons = switch scenario {
    case "context": try await benchmarkContext(rounds: rounds)
    case "registry": try await benchmarkRegistry(rounds: rounds, postgres: registryServer)
    case "postgres": try await benchmarkPostgresIsolation(rounds: rounds, options: postgresOptions!)
    case "isolation": try await benchmarkIsolation(rounds: rounds)
    default: try await benchmarkQuotas(rounds: rounds, python: python, postgres: postgresOptions)
    }
    for comparison in comparisons {
        print(json ? String(decoding: try encoder.encode(comparison), as: UTF8.self) : comparison.line)
    }
}
