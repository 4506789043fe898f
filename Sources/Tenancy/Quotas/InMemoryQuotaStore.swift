public import Foundation
import Synchronization

/// Quota counters, refunds and leases in memory, for tests and single-process services.
///
/// Every method runs under one `Mutex` with no suspension point inside, so a check and its
/// charge are one step however many tasks call at once.
public final class InMemoryQuotaStore: QuotaStore {
    private struct State {
        var counters: [QuotaCounterKey: StoredQuotaCounter] = [:]
        /// Refunded charge ids with their tenant and the instant after which they can go.
        var refunds: [UUID: (tenant: TenantID, keepUntil: Int64)] = [:]
        /// Unexpired leases per key: lease id to expiry instant.
        var leases: [QuotaCounterKey: [UUID: Int64]] = [:]
    }

    private let state = Mutex(State())

    /// Creates an empty store.
    public init() {}

    public func charge(_ lines: [QuotaChargeLine]) async throws -> QuotaChargeOutcome {
        chargeNow(lines)
    }

    /// Applies ``charge(_:)`` without a suspension point, for a manager that owns this store.
    func chargeNow(_ lines: [QuotaChargeLine]) -> QuotaChargeOutcome {
        if lines.count == 1 {
            return switch chargeNow(lines[0]) {
            case .charged(let used): .charged(usedAfter: [used])
            case .rejected(let used): .rejected(lineIndex: 0, used: used)
            }
        }
        return state.withLock { state in
            var updated: [StoredQuotaCounter] = []
            for (index, line) in lines.enumerated() {
                let current = (state.counters[line.key] ?? StoredQuotaCounter(window: line.window, used: 0)).seen(in: line.window)
                if current.used > line.limit - line.amount {
                    return .rejected(lineIndex: index, used: current.used)
                }
                updated.append(StoredQuotaCounter(window: current.window, used: current.used + line.amount))
            }
            for (line, counter) in zip(lines, updated) {
                state.counters[line.key] = counter
            }
            return .charged(usedAfter: updated.map(\.used))
        }
    }

    /// The outcome of a one-line charge: the counter's value after it, or its value when
    /// the charge was rejected.
    enum SingleChargeOutcome {
        case charged(usedAfter: Int)
        case rejected(used: Int)
    }

    /// Charges one line as ``charge(_:)`` does, hashing its key once and allocating nothing
    /// once the counter exists.
    func chargeNow(_ line: QuotaChargeLine) -> SingleChargeOutcome {
        state.withLock { state in
            guard let index = state.counters.index(forKey: line.key) else {
                guard line.amount <= line.limit else { return .rejected(used: 0) }
                state.counters[line.key] = StoredQuotaCounter(window: line.window, used: line.amount)
                return .charged(usedAfter: line.amount)
            }
            let current = state.counters.values[index].seen(in: line.window)
            if current.used > line.limit - line.amount {
                return .rejected(used: current.used)
            }
            let used = current.used + line.amount
            state.counters.values[index] = StoredQuotaCounter(window: current.window, used: used)
            return .charged(usedAfter: used)
        }
    }

    public func used(_ counters: [(key: QuotaCounterKey, window: QuotaWindow)]) async throws -> [Int] {
        state.withLock { state in
            counters.map { key, window in
                state.counters[key].map { $0.seen(in: window).used } ?? 0
            }
        }
    }

    public func refund(chargeID: UUID, tenantID: TenantID, lines: [QuotaChargeLine], keepUntil: Int64, now: Int64) async throws -> Bool {
        state.withLock { state in
            state.refunds = state.refunds.filter { $0.value.keepUntil > now }
            guard state.refunds[chargeID] == nil else { return false }
            state.refunds[chargeID] = (tenantID, keepUntil)
            for line in lines {
                guard var counter = state.counters[line.key], counter.window == line.window else { continue }
                counter.used = max(0, counter.used - line.amount)
                state.counters[line.key] = counter
            }
            return true
        }
    }

    public func decrement(_ key: QuotaCounterKey, by amount: Int) async throws -> Int {
        state.withLock { state in
            guard var counter = state.counters[key] else { return 0 }
            counter.used = max(0, counter.used - amount)
            state.counters[key] = counter
            return counter.used
        }
    }

    public func acquireLease(_ leaseID: UUID, key: QuotaCounterKey, limit: Int, now: Int64, expiresAt: Int64) async throws -> QuotaLeaseOutcome {
        state.withLock { state in
            var leases = (state.leases[key] ?? [:]).filter { $0.value > now }
            guard leases.count < limit else {
                state.leases[key] = leases
                return .rejected(active: leases.count)
            }
            leases[leaseID] = expiresAt
            state.leases[key] = leases
            return .acquired(active: leases.count)
        }
    }

    public func releaseLease(_ leaseID: UUID, key: QuotaCounterKey) async throws -> Bool {
        state.withLock { state in
            state.leases[key]?.removeValue(forKey: leaseID) != nil
        }
    }

    public func activeLeases(_ key: QuotaCounterKey, now: Int64) async throws -> Int {
        state.withLock { state in
            (state.leases[key] ?? [:]).values.filter { $0 > now }.count
        }
    }

    public func reset(_ subject: QuotaSubject, quota: String?) async throws -> Int {
        state.withLock { state in
            let matches = { (key: QuotaCounterKey) in key.subject == subject && (quota == nil || key.quota == quota) }
            let counters = state.counters.keys.filter(matches)
            let leaseKeys = state.leases.keys.filter(matches)
            let leaseCount = leaseKeys.reduce(0) { $0 + (state.leases[$1]?.count ?? 0) }
            counters.forEach { state.counters.removeValue(forKey: $0) }
            leaseKeys.forEach { state.leases.removeValue(forKey: $0) }
            return counters.count + leaseCount
        }
    }

    public func purge(_ tenantID: TenantID) async throws -> Int {
        let removed = try await reset(.tenant(tenantID), quota: nil)
        let refunds = state.withLock { state in
            let ids = state.refunds.filter { $0.value.tenant == tenantID }.map(\.key)
            ids.forEach { state.refunds.removeValue(forKey: $0) }
            return ids.count
        }
        return removed + refunds
    }
}
