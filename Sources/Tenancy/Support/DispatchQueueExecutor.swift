package import Dispatch

/// A serial executor that runs an actor's jobs on a private Dispatch queue.
///
/// Each SQLite and PostgreSQL connection belongs to an actor on one of these, so a blocking C
/// call (`sqlite3_step`, a busy wait for a lock, `PQexecParams`) runs on that queue's thread
/// and never on Swift's cooperative pool. Linux has no `DispatchSerialQueue` executor, hence
/// this type.
package final class DispatchQueueExecutor: SerialExecutor {
    package let queue: DispatchQueue

    /// Marks the queues of these executors with their label, so code can tell where it runs.
    package static let labelKey = DispatchSpecificKey<String>()

    package init(label: String) {
        queue = DispatchQueue(label: label)
        queue.setSpecific(key: Self.labelKey, value: label)
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async {
            job.runSynchronously(on: executor)
        }
    }

    package func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    package func checkIsolated() {
        dispatchPrecondition(condition: .onQueue(queue))
    }
}
