import Dispatch

/// A serial executor that runs an actor's jobs on a private Dispatch queue.
///
/// Each PostgreSQL connection belongs to an actor on one of these, so a blocking libpq call
/// (`PQconnectdbParams`, `PQexecParams`, `PQgetResult`) runs on that queue's thread and never
/// on Swift's cooperative pool. Linux has no `DispatchSerialQueue` executor, hence this type,
/// a copy of the one in TenancySQLite (each module keeps its own so neither depends on the
/// other).
final class DispatchQueueExecutor: SerialExecutor {
    let queue: DispatchQueue

    /// Marks the queues of these executors with their label, so code can tell where it runs.
    static let labelKey = DispatchSpecificKey<String>()

    init(label: String) {
        queue = DispatchQueue(label: label)
        queue.setSpecific(key: Self.labelKey, value: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async {
            job.runSynchronously(on: executor)
        }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func checkIsolated() {
        dispatchPrecondition(condition: .onQueue(queue))
    }
}
