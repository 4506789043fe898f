import Foundation
public import Tenancy
import Testing

/// The checks every ``PurgeJobStore`` must pass, for the bundled stores and your own.
///
/// Call ``run(_:)`` from a Swift Testing test with a factory that returns a fresh, empty
/// store. Each check gets its own store.
public enum PurgeJobStoreConformance {
    /// One conformance check.
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case saveThenLoadBack
        case saveReplacesTheJob
        case saveKeepsTheReceipt
        case unfinishedJobsExcludeReceipts

        public var description: String { rawValue }
    }

    /// Runs every check, each against a new store from `makeStore`.
    public static func run(_ makeStore: @Sendable () async throws -> any PurgeJobStore) async throws {
        for check in Check.allCases {
            try await run(check, makeStore)
        }
    }

    /// Runs one check against a new store from `makeStore`.
    public static func run(_ check: Check, _ makeStore: @Sendable () async throws -> any PurgeJobStore) async throws {
        let store = try await makeStore()
        switch check {
        case .saveThenLoadBack: try await saveThenLoadBack(store)
        case .saveReplacesTheJob: try await saveReplacesTheJob(store)
        case .saveKeepsTheReceipt: try await saveKeepsTheReceipt(store)
        case .unfinishedJobsExcludeReceipts: try await unfinishedJobsExcludeReceipts(store)
        }
    }

    static func instant(_ offset: Int64) -> Date {
        Date(millisecondsSince1970: 1_700_000_000_000 + offset)
    }

    static func step(_ purger: String, removed: Int, at offset: Int64) -> PurgeStep {
        PurgeStep(purger: purger, removed: removed, finishedAt: instant(offset))
    }

    /// Returns a job with no purger finished yet.
    static func startedJob(_ id: TenantID) -> PurgeJob {
        PurgeJob(tenantID: id, startedAt: instant(1), requestedBy: nil)
    }

    /// Returns a job with every purger finished and its receipt.
    static func finishedJob(_ id: TenantID) -> PurgeJob {
        let steps = [step("files", removed: 12, at: 200), step("registry", removed: 1, at: 301)]
        let receipt = PurgeReceipt(
            tenantID: id, startedAt: instant(1), completedAt: instant(302), requestedBy: "operator:ops-1", steps: steps)
        return PurgeJob(
            tenantID: id, startedAt: instant(1), requestedBy: "operator:ops-1", completedSteps: steps, receipt: receipt)
    }

    static func saveThenLoadBack(_ store: any PurgeJobStore) async throws {
        let started = startedJob("acme-corp")
        let partial = PurgeJob(
            tenantID: "globex", startedAt: instant(5), requestedBy: "user:7",
            completedSteps: [step("rows", removed: 0, at: 10), step("files", removed: 4_000_000_000, at: 999)])
        let finished = finishedJob("initech")

        #expect(try await store.job(for: "acme-corp") == nil)
        try await store.save(started)
        try await store.save(partial)
        try await store.save(finished)

        #expect(try await store.job(for: "acme-corp") == started)
        #expect(try await store.job(for: "globex") == partial)
        let loaded = try #require(try await store.job(for: "initech"))
        #expect(loaded == finished)
        #expect(loaded.receipt?.steps.map(\.purger) == ["files", "registry"])
        #expect(loaded.receipt?.steps.map(\.removed) == [12, 1])
        #expect(loaded.receipt?.completedAt.millisecondsSince1970 == 1_700_000_000_302)
        #expect(try await store.job(for: "hooli") == nil)
    }

    static func saveReplacesTheJob(_ store: any PurgeJobStore) async throws {
        var job = startedJob("acme-corp")
        try await store.save(job)

        job.completedSteps.append(step("files", removed: 3, at: 50))
        try await store.save(job)
        #expect(try await store.job(for: "acme-corp") == job)

        let finished = finishedJob("acme-corp")
        try await store.save(finished)
        #expect(try await store.job(for: "acme-corp") == finished)
        #expect(try await store.unfinishedJobs() == [])
    }

    static func saveKeepsTheReceipt(_ store: any PurgeJobStore) async throws {
        let finished = finishedJob("acme-corp")
        try await store.save(finished)

        try await store.save(startedJob("acme-corp"))
        var otherReceipt = finished
        otherReceipt.receipt?.completedAt = instant(999)
        try await store.save(otherReceipt)

        #expect(try await store.job(for: "acme-corp") == finished)
        #expect(try await store.unfinishedJobs() == [])
    }

    static func unfinishedJobsExcludeReceipts(_ store: any PurgeJobStore) async throws {
        #expect(try await store.unfinishedJobs() == [])

        let acme = startedJob("acme-corp")
        let globex = startedJob("globex")
        try await store.save(acme)
        try await store.save(finishedJob("initech"))
        try await store.save(globex)

        #expect(Set(try await store.unfinishedJobs()) == [acme, globex])
        #expect(try await store.unfinishedJobs().count == 2)

        try await store.save(finishedJob("acme-corp"))
        #expect(try await store.unfinishedJobs() == [globex])
    }
}
