public import Foundation
import Synchronization

/// A held slot of a concurrency quota, such as one running debate.
///
/// Release it with ``release()`` when the work ends; a lease that is never released (its
/// process crashed) frees its slot when it expires.
public final class QuotaLease: Sendable, Identifiable {
    /// The lease id.
    public let id: UUID
    public let tenantID: TenantID
    /// The quota name, such as `concurrent_debates`.
    public let quota: String
    /// The instant the slot frees itself unless released earlier.
    public let expiresAt: Date

    let key: QuotaCounterKey
    let store: any QuotaStore
    private let released = Atomic<Bool>(false)

    init(id: UUID, tenantID: TenantID, quota: String, expiresAt: Date, key: QuotaCounterKey, store: any QuotaStore) {
        self.id = id
        self.tenantID = tenantID
        self.quota = quota
        self.expiresAt = expiresAt
        self.key = key
        self.store = store
    }

    /// Frees the slot. Calling it again, or after the lease expired, changes nothing.
    ///
    /// - Returns: true when this call removed the lease from the store.
    @discardableResult
    public func release() async throws -> Bool {
        guard released.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return false
        }
        do {
            return try await store.releaseLease(id, key: key)
        } catch {
            // The store did not confirm, so a later call may try again.
            released.store(false, ordering: .releasing)
            throw error
        }
    }

    /// Whether ``release()`` completed.
    public var isReleased: Bool { released.load(ordering: .acquiring) }
}

extension QuotaManager {
    /// Takes one slot of a concurrency quota, or throws when every slot is held.
    ///
    /// - Parameters:
    ///   - quota: the lease quota; `concurrent_debates` by default.
    ///   - timeToLive: how long the slot stays held unless released; the configuration's
    ///     ``QuotaConfig/leaseTimeToLive`` when nil.
    /// - Throws: ``QuotaExceeded`` (period `none`, no `retryAfter`) when every slot is held;
    ///   ``ValidationError`` for a quota that is not a lease quota or an invalid time-to-live;
    ///   the registry's errors for unknown or inactive tenants.
    public func acquire(_ quota: String = QuotaCatalog.concurrentDebates, tenantID: TenantID, timeToLive: Duration? = nil) async throws -> QuotaLease {
        let timeToLive = timeToLive ?? config.leaseTimeToLive
        guard timeToLive > .zero, timeToLive <= .seconds(366 * 86_400) else {
            throw ValidationError(
                .invalidArgument, field: "time-to-live",
                message: "invalid lease time-to-live \(timeToLive): expected more than zero and at most 366 days")
        }
        try QuotaCatalog.validateName(quota)
        let tenant = try await resolve(tenantID)
        let limit = try leaseLimit(of: quota, for: tenant)

        let now = clock.now()
        let nowMilliseconds = now.millisecondsSince1970
        let (seconds, attoseconds) = timeToLive.components
        let ttlMilliseconds = max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        let expiresAt = nowMilliseconds + ttlMilliseconds
        let key = QuotaCounterKey(subject: .tenant(tenantID), quota: quota, period: .none)
        let id = UniqueID.next()
        switch try await store.acquireLease(id, key: key, limit: limit, now: nowMilliseconds, expiresAt: expiresAt) {
        case .acquired:
            FaultInjection.reach("quota.lease.acquired")
            return QuotaLease(
                id: id, tenantID: tenantID, quota: quota, expiresAt: Date(millisecondsSince1970: expiresAt), key: key, store: store)
        case .rejected(let active):
            logger.info("quota lease refused", ["tenant.id": tenantID.rawValue, "quota.name": quota])
            throw QuotaExceeded(
                quotaName: quota, limit: limit, used: active, requested: 1, period: .none, tenantID: tenantID,
                subject: .tenant(tenantID), retryAfter: nil, resetsAt: nil)
        }
    }

    /// Runs `body` while holding one slot of a concurrency quota, and releases the slot when
    /// `body` returns or throws.
    ///
    /// When the release itself fails, the error of `body` (if any) wins, and the slot frees
    /// itself when the lease expires.
    public func withLease<Result>(
        _ quota: String = QuotaCatalog.concurrentDebates,
        tenantID: TenantID,
        timeToLive: Duration? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (QuotaLease) async throws -> Result
    ) async throws -> Result {
        let lease = try await acquire(quota, tenantID: tenantID, timeToLive: timeToLive)
        let result: Result
        do {
            result = try await body(lease)
        } catch {
            do {
                try await lease.release()
            } catch let releaseError {
                logger.error(
                    "quota lease release failed",
                    ["tenant.id": tenantID.rawValue, "quota.name": quota, "error": "\(releaseError)"])
            }
            throw error
        }
        try await lease.release()
        return result
    }
}
