public import Foundation

/// Removes one kind of a tenant's data during deletion with purge.
///
/// Purgers run in the order they were registered. A purger must be idempotent: the deletion
/// job runs it again after a crash, and a second run removes what is left (often nothing).
public protocol TenantPurger: Sendable {
    /// A stable name, recorded in the deletion job and the receipt, such as `registry`.
    var name: String { get }

    /// Removes the tenant's data and returns how many items (rows, files, keys) it removed.
    func purge(_ tenantID: TenantID) async throws -> Int
}

/// The result of one purger in a deletion job.
public struct PurgeStep: Hashable, Sendable, Codable {
    public var purger: String
    /// Items removed by the run that completed.
    public var removed: Int
    public var finishedAt: Date

    public init(purger: String, removed: Int, finishedAt: Date) {
        self.purger = purger
        self.removed = removed
        self.finishedAt = finishedAt
    }
}

/// What a completed purge removed, kept after the tenant is deleted.
public struct PurgeReceipt: Hashable, Sendable, Codable {
    public var tenantID: TenantID
    public var startedAt: Date
    public var completedAt: Date
    /// The principal that asked for the deletion, if one was bound.
    public var requestedBy: String?
    /// One step per purger, in the order they ran.
    public var steps: [PurgeStep]

    public init(tenantID: TenantID, startedAt: Date, completedAt: Date, requestedBy: String?, steps: [PurgeStep]) {
        self.tenantID = tenantID
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.requestedBy = requestedBy
        self.steps = steps
    }

    /// The total number of items removed.
    public var totalRemoved: Int { steps.reduce(0) { $0 + $1.removed } }
}

/// The durable progress of one tenant's deletion with purge.
public struct PurgeJob: Hashable, Sendable, Codable {
    public var tenantID: TenantID
    public var startedAt: Date
    public var requestedBy: String?
    /// The purgers that finished, in order.
    public var completedSteps: [PurgeStep]
    /// Set when every purger finished.
    public var receipt: PurgeReceipt?

    public init(tenantID: TenantID, startedAt: Date, requestedBy: String?, completedSteps: [PurgeStep] = [], receipt: PurgeReceipt? = nil) {
        self.tenantID = tenantID
        self.startedAt = startedAt
        self.requestedBy = requestedBy
        self.completedSteps = completedSteps
        self.receipt = receipt
    }
}

/// Storage for deletion jobs, so a purge resumes after a crash and a receipt outlives it.
public protocol PurgeJobStore: Sendable {
    /// Returns the job of this tenant, or nil.
    func job(for tenantID: TenantID) async throws -> PurgeJob?
    /// Stores the job, replacing the tenant's previous state unless that state has a receipt.
    ///
    /// A stored receipt is never replaced, so when two callers finish the same purge at once
    /// the first receipt stays and both return it.
    func save(_ job: PurgeJob) async throws
    /// Returns the jobs that have no receipt yet.
    func unfinishedJobs() async throws -> [PurgeJob]
}
