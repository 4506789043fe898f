// tenancy-bench: measures Tenancy against baselines run in the same process and the same run.
//
// Usage: tenancy-bench SCENARIO... [--rounds N] [--python PATH] [--json]
// Scenarios: context, registry, isolation, quotas, all. Build in release mode: swift run -c release tenancy-bench all
import Foundation

let usage = """
    usage: tenancy-bench SCENARIO... [--rounds N] [--python PATH] [--json]
      scenarios: context, registry, isolation, quotas, all
      --rounds N     timed rounds per comparison, alternating ours and baseline (default 7)
      --python PATH  a Python interpreter with the limits package, for the quotas baseline
      --json         print one JSON object per comparison instead of text lines
    """

var scenarios: [String] = []
var rounds = 7
var json = false
var python: String?
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
    case "--help", "-h":
        print(usage)
        exit(0)
    case "context", "registry", "isolation", "quotas":
        scenarios.append(argument)
    case "all":
        scenarios += ["context", "registry", "isolation", "quotas"]
    default:
        FileHandle.standardError.write(Data("error: unknown scenario or option '\(argument)'\n\(usage)\n".utf8))
        exit(2)
    }
}
if scenarios.isEmpty {
    FileHandle.standardError.write(Data("error: no scenario given\n\(usage)\n".utf8))
    exit(2)
}

#if DEBUG
FileHandle.standardError.write(Data("warning: debug build; measure with `swift run -c release tenancy-bench`\n".utf8))
#endif

let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
for scenario in scenarios {
    let comparisons = switch scenario {
    case "context": try await benchmarkContext(rounds: rounds)
    case "registry": try await benchmarkRegistry(rounds: rounds)
    case "isolation": try await benchmarkIsolation(rounds: rounds)
    default: try await benchmarkQuotas(rounds: rounds, python: python)
    }
    for comparison in comparisons {
        print(json ? String(decoding: try encoder.encode(comparison), as: UTF8.self) : comparison.line)
    }
}
