import Synchronization

/// Deletion jobs in memory.
public final class InMemoryPurgeJobStore: PurgeJobStore {
    private let jobs = Mutex<[TenantID: PurgeJob]>([:])

    public init() {}

    public func job(for tenantID: TenantID) async throws -> PurgeJob? {
        jobs.withLock { $0[tenantID] }
    }

    public func save(_ job: PurgeJob) async throws {
        jobs.withLock { jobs in
            if jobs[job.tenantID]?.receipt == nil {
                jobs[job.tenantID] = job
            }
        }
    }

    public func unfinishedJobs() async throws -> [PurgeJob] {
        jobs.withLock { jobs in
            jobs.values.filter { $0.receipt == nil }.sorted { $0.tenantID < $1.tenantID }
        }
    }
}
