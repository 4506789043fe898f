import Synchronization

/// An append-only audit trail in memory.
public final class InMemoryAuditStore: AuditStore {
    private let trail = Mutex<[AuditRecord]>([])

    public init() {}

    @discardableResult
    public func append(_ record: AuditRecord) async throws -> AuditRecord {
        trail.withLock { trail in
            var stored = record
            stored.sequence = Int64(trail.count + 1)
            trail.append(stored)
            return stored
        }
    }

    public func records(_ query: AuditQuery) async throws -> [AuditRecord] {
        try query.validate()
        return trail.withLock { trail in
            Array(
                trail.lazy
                    .filter { query.tenantID == nil || $0.tenantID == query.tenantID }
                    .filter { record in query.afterSequence.map { record.sequence! > $0 } ?? true }
                    .prefix(query.limit))
        }
    }
}
