import Foundation

/// One comparison line: ours against a baseline measured in the same run.
struct Comparison: Encodable {
    enum Direction: String, Encodable {
        case lowerIsBetter = "lower-is-better"
        case higherIsBetter = "higher-is-better"
    }

    let name: String
    let ours: Double
    let baseline: Double
    let unit: String
    let baselineName: String
    let direction: Direction

    var ratio: Double { ours / baseline }

    /// The line format every scenario prints.
    var line: String {
        "\(name) ratio=\(format(ratio)) ours=\(format(ours)) \(unit) baseline=\(format(baseline)) \(unit) "
            + "(\(baselineName)) \(direction.rawValue)"
    }

    private func format(_ value: Double) -> String {
        String(format: value >= 100 ? "%.1f" : "%.3f", value)
    }

    enum CodingKeys: String, CodingKey {
        case name, ratio, ours, baseline, unit, baselineName = "baseline_name", direction
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(ratio, forKey: .ratio)
        try container.encode(ours, forKey: .ours)
        try container.encode(baseline, forKey: .baseline)
        try container.encode(unit, forKey: .unit)
        try container.encode(baselineName, forKey: .baselineName)
        try container.encode(direction, forKey: .direction)
    }
}

/// Times two pieces of work alternately, after a warm-up, over several rounds, and returns the
/// median nanoseconds per operation of each.
func measureAlternating(
    rounds: Int, operationsPerRound: Int,
    ours: () async throws -> Void, baseline: () async throws -> Void
) async rethrows -> (ours: Double, baseline: Double) {
    try await ours()
    try await baseline()
    var oursTimes: [Double] = []
    var baselineTimes: [Double] = []
    let clock = ContinuousClock()
    for round in 0..<rounds {
        // Alternate which side goes first, so drift on a shared machine hits both equally.
        if round % 2 == 0 {
            oursTimes.append(try await clock.measure(ours).nanoseconds / Double(operationsPerRound))
            baselineTimes.append(try await clock.measure(baseline).nanoseconds / Double(operationsPerRound))
        } else {
            baselineTimes.append(try await clock.measure(baseline).nanoseconds / Double(operationsPerRound))
            oursTimes.append(try await clock.measure(ours).nanoseconds / Double(operationsPerRound))
        }
    }
    return (median(oursTimes), median(baselineTimes))
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

extension Duration {
    var nanoseconds: Double {
        Double(components.seconds) * 1e9 + Double(components.attoseconds) / 1e9
    }
}

/// Keeps a value alive so the optimizer cannot drop the work that produced it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
