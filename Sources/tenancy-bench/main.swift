// tenancy-bench: measures Tenancy against baselines run in the same process and the same run.
//
// Usage: tenancy-bench SCENARIO... [--rounds N] [--json]
// Scenarios: context, registry, isolation, all. Build in release mode: swift run -c release tenancy-bench all
import Foundation

let usage = """
    usage: tenancy-bench SCENARIO... [--rounds N] [--json]
      scenarios: context, registry, isolation, all
      --rounds N   timed rounds per comparison, alternating ours and baseline (default 7)
      --json       print one JSON object per comparison instead of text lines
    """

var scenarios: [String] = []
var rounds = 7
var json = false
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
    case "--help", "-h":
        print(usage)
        exit(0)
    case "context", "registry", "isolation":
        scenarios.append(argument)
    case "all":
        scenarios += ["context", "registry", "isolation"]
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
    default: try await benchmarkIsolation(rounds: rounds)
    }
    for comparison in comparisons {
        print(json ? String(decoding: try encoder.encode(comparison), as: UTF8.self) : comparison.line)
    }
}
