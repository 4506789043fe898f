/// The generic cell rate algorithm (GCRA), in integer nanoseconds.
///
/// A bucket admits `burst` units at once and refills one unit every `emissionInterval`
/// nanoseconds. Its whole state is one instant, the theoretical arrival time (TAT): the
/// instant at which the bucket would be full again. A request of `cost` units is admitted
/// when `max(TAT, now) + cost * emissionInterval - burst * emissionInterval <= now`.
///
/// Every store applies ``decide(tat:now:bucket:cost:)``, so every backend rounds the same way.
public enum GCRA {
    /// One bucket's parameters, checked by ``RateLimitRule``.
    public struct Bucket: Hashable, Sendable, Codable {
        /// Nanoseconds per unit of refill, 1 or more.
        public let emissionInterval: Int64
        /// The units a full bucket admits at once, 0 or more (0 admits nothing).
        public let burst: Int64

        /// Creates bucket parameters; ``RateLimitRule`` checks them, including that
        /// `burst * emissionInterval` fits the range of ``RateLimitRule/maximumRefillTime``.
        public init(emissionInterval: Int64, burst: Int64) {
            precondition(emissionInterval >= 1 && burst >= 0, "a GCRA bucket needs an emission interval of 1 ns or more and a burst of 0 or more")
            self.emissionInterval = emissionInterval
            self.burst = burst
        }

        /// The nanoseconds an empty bucket takes to refill.
        public var capacity: Int64 { burst * emissionInterval }
    }

    /// The outcome of one decision on one bucket.
    public struct Result: Hashable, Sendable {
        /// Whether the request fits.
        public let allowed: Bool
        /// The TAT to store when every bucket of the decision allows; the old TAT otherwise.
        public let tat: Int64
        /// The unit requests this bucket would admit right after the decision.
        public let remaining: Int64
        /// Nanoseconds until the bucket is full again, 0 when it is full.
        public let resetAfter: Int64
        /// Nanoseconds until this request would be admitted; 0 when allowed, nil when its cost
        /// is above the burst, so it is never admitted.
        public let retryAfter: Int64?
    }

    /// Decides a request of `cost` units (1 or more) at `now` on a bucket whose stored TAT is
    /// `tat` (nil for a bucket never used).
    public static func decide(tat: Int64?, now: Int64, bucket: Bucket, cost: Int64) -> Result {
        precondition(cost >= 1, "a GCRA request costs 1 unit or more")
        let interval = bucket.emissionInterval
        let capacity = bucket.capacity
        let base = max(tat ?? now, now)
        let unitsLeft = max(0, (capacity - (base - now)) / interval)
        guard cost <= bucket.burst else {
            return Result(allowed: false, tat: base, remaining: 0, resetAfter: base - now, retryAfter: nil)
        }
        let next = base + cost * interval
        let admitAt = next - capacity
        if admitAt > now {
            return Result(allowed: false, tat: base, remaining: unitsLeft, resetAfter: base - now, retryAfter: admitAt - now)
        }
        return Result(allowed: true, tat: next, remaining: (capacity - (next - now)) / interval, resetAfter: next - now, retryAfter: 0)
    }
}
