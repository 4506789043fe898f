import Tenancy

/// A task-local of the same type the library binds, read and bound directly: the baseline.
enum RawTaskLocal {
    @TaskLocal static var context: TenantContext?
}

/// `context`: reading the current tenant and entering a scope for a loaded tenant, against a
/// raw `@TaskLocal` read and a raw `withValue` of a struct of the same size.
func benchmarkContext(rounds: Int) async throws -> [Comparison] {
    let tenant = Tenant(
        id: "bench-tenant", name: "Bench Tenant", tier: .business, adminEmail: "owner@bench.example",
        metadata: ["plan": "annual"])
    let readsPerRound = 2_000_000
    let entriesPerRound = 200_000

    let reads = try await TenantContext.withTenant(tenant) { _ in
        let raw = TenantContext.current
        return await RawTaskLocal.$context.withValue(raw) {
            await measureAlternating(
                rounds: rounds, operationsPerRound: readsPerRound,
                ours: {
                    for _ in 0..<readsPerRound { blackHole(currentTenant()) }
                },
                baseline: {
                    for _ in 0..<readsPerRound { blackHole(RawTaskLocal.context?.tenant) }
                })
        }
    }

    let rawContext = try await TenantContext.withTenant(tenant) { _ in TenantContext.current }
    let entries = try await measureAlternating(
        rounds: rounds, operationsPerRound: entriesPerRound,
        ours: {
            for _ in 0..<entriesPerRound {
                try await TenantContext.withTenant(tenant) { bound in blackHole(bound.id) }
            }
        },
        baseline: {
            for _ in 0..<entriesPerRound {
                await RawTaskLocal.$context.withValue(rawContext, operation: { () async -> Void in
                    blackHole(RawTaskLocal.context?.tenant?.id)
                })
            }
        })

    return [
        Comparison(
            name: "context.read", ours: reads.ours, baseline: reads.baseline, unit: "ns/op",
            baselineName: "raw @TaskLocal read of the same struct", direction: .lowerIsBetter),
        Comparison(
            name: "context.enter", ours: entries.ours, baseline: entries.baseline, unit: "ns/op",
            baselineName: "raw TaskLocal.withValue of the same struct", direction: .lowerIsBetter),
    ]
}
