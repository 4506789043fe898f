public import Foundation

/// Whose counter a quota line charges: one tenant, every tenant of a tier, or every tenant.
public enum QuotaSubject: Hashable, Sendable, Codable, CustomStringConvertible {
    case tenant(TenantID)
    case tier(TenantTier)
    case global

    /// The text stores key counters by: `tenant:<id>`, `tier:<tier>` or `global`. The forms
    /// never collide, because tenant ids contain no `:`.
    public var storageKey: String {
        switch self {
        case .tenant(let id): "tenant:\(id.rawValue)"
        case .tier(let tier): "tier:\(tier.rawValue)"
        case .global: "global"
        }
    }

    public var description: String { storageKey }

    /// Parses a ``storageKey``; nil for text no store writes.
    public init?(storageKey: String) {
        if storageKey == "global" {
            self = .global
        } else if storageKey.hasPrefix("tier:"), let tier = TenantTier(rawValue: String(storageKey.dropFirst(5))) {
            self = .tier(tier)
        } else if storageKey.hasPrefix("tenant:"), let id = try? TenantID(validating: String(storageKey.dropFirst(7))) {
            self = .tenant(id)
        } else {
            return nil
        }
    }
}

/// The counter of one quota period of one subject. A store keeps one current window per key.
public struct QuotaCounterKey: Hashable, Sendable, Codable {
    public var subject: QuotaSubject
    /// The quota name.
    public var quota: String
    public var period: QuotaPeriod

    /// Creates a counter key.
    public init(subject: QuotaSubject, quota: String, period: QuotaPeriod) {
        self.subject = subject
        self.quota = quota
        self.period = period
    }

    // The synthesized hash would hash the period's raw value, a third string per lookup.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(subject)
        hasher.combine(quota)
        hasher.combine(period.ordinal)
    }
}

/// One counter a charge adds to, with the window the manager computed and the limit to keep.
public struct QuotaChargeLine: Hashable, Sendable, Codable {
    public var key: QuotaCounterKey
    /// The window the amount is charged to.
    public var window: QuotaWindow
    /// The units added, 1 to ``QuotaConfig/maximumAmount``.
    public var amount: Int
    /// The counter may reach this value but not pass it.
    public var limit: Int

    /// Creates a charge line.
    public init(key: QuotaCounterKey, window: QuotaWindow, amount: Int, limit: Int) {
        self.key = key
        self.window = window
        self.amount = amount
        self.limit = limit
    }
}

/// The outcome of a charge in a store.
public enum QuotaChargeOutcome: Hashable, Sendable {
    /// Every line was charged; `usedAfter` contains each counter's value after the charge, in
    /// line order.
    case charged(usedAfter: [Int])
    /// Nothing was charged, because the line at `lineIndex` would pass its limit; `used` is
    /// that counter's value in the line's window.
    case rejected(lineIndex: Int, used: Int)
}

/// The outcome of a lease request in a store.
public enum QuotaLeaseOutcome: Hashable, Sendable {
    /// The lease is stored; `active` counts the unexpired leases including it.
    case acquired(active: Int)
    /// Nothing was stored, because `active` unexpired leases already reach the limit.
    case rejected(active: Int)
}

/// Storage for quota counters, refunds and leases.
///
/// The manager computes windows and limits; a store applies them. Each method is one atomic
/// step against every other caller, in this process and in others sharing the store, so a
/// decision never reads a count that another decision is about to change. A backend with SQL
/// can implement each method as one statement or one transaction.
///
/// Instants are passed in by the caller (from its ``TenancyClock``), so every store accepts a
/// fixed clock in tests. ``StoredQuotaCounter/seen(in:)`` defines how a stored counter counts
/// in a line's window; every store applies it.
public protocol QuotaStore: Sendable {
    /// Adds every line's amount to its counter when each counter stays at or under its limit,
    /// or changes nothing.
    func charge(_ lines: [QuotaChargeLine]) async throws -> QuotaChargeOutcome

    /// Returns each counter's value in the given window (0 when the stored window is older or
    /// the counter does not exist), in order.
    func used(_ counters: [(key: QuotaCounterKey, window: QuotaWindow)]) async throws -> [Int]

    /// Subtracts each line's amount from its counter, never below 0, but only where the stored
    /// window is still the line's window. Records `chargeID`, so a second refund of the same
    /// charge changes nothing.
    ///
    /// - Parameters:
    ///   - tenantID: the tenant the charge belongs to; the record is purged with the tenant.
    ///   - keepUntil: how long the record must stay (the end of the charge's last window);
    ///     after that a refund is a no-op anyway, so the store may drop it.
    /// - Returns: false when the charge was refunded before.
    func refund(chargeID: UUID, tenantID: TenantID, lines: [QuotaChargeLine], keepUntil: Int64, now: Int64) async throws -> Bool

    /// Subtracts `amount` from a gauge counter, never below 0, and returns the new value.
    func decrement(_ key: QuotaCounterKey, by amount: Int) async throws -> Int

    /// Stores a lease that expires at `expiresAt` when fewer than `limit` unexpired leases of
    /// `key` exist at `now`, or changes nothing.
    func acquireLease(_ leaseID: UUID, key: QuotaCounterKey, limit: Int, now: Int64, expiresAt: Int64) async throws -> QuotaLeaseOutcome

    /// Removes a lease; returns false when it was already released or removed.
    func releaseLease(_ leaseID: UUID, key: QuotaCounterKey) async throws -> Bool

    /// Returns the number of unexpired leases of `key` at `now`.
    func activeLeases(_ key: QuotaCounterKey, now: Int64) async throws -> Int

    /// Removes the counters and leases of `subject`, of one quota or of all when `quota` is nil,
    /// and returns how many it removed.
    func reset(_ subject: QuotaSubject, quota: String?) async throws -> Int

    /// Removes every counter, lease and refund record of a tenant and returns how many it
    /// removed.
    func purge(_ tenantID: TenantID) async throws -> Int
}

/// A counter as a store keeps it: its current window and the units used in it.
public struct StoredQuotaCounter: Hashable, Sendable {
    public var window: QuotaWindow
    public var used: Int

    /// Creates a stored counter value.
    public init(window: QuotaWindow, used: Int) {
        self.window = window
        self.used = used
    }

    /// Returns the counter as a decision in `window` sees it.
    ///
    /// A stored window that started before `window` has rolled over, so the counter counts 0
    /// in `window`. A stored window that started after it (a caller whose clock lags another
    /// process's) is kept: the caller's line counts against the newer window, which never lets
    /// more units through than the newer window's limit.
    public func seen(in window: QuotaWindow) -> StoredQuotaCounter {
        self.window.startMilliseconds < window.startMilliseconds ? StoredQuotaCounter(window: window, used: 0) : self
    }
}
