/// A rate limit: `rate` units per `period`, with bursts of up to `burst` units.
public struct RateLimitRule: Hashable, Sendable {
    /// The sustained rate, in units per ``period``.
    public let rate: Int
    /// The period of ``rate``.
    public let period: Duration
    /// The units a full bucket admits at once.
    public let burst: Int
    /// The policy name in the header fields; nil uses the tenant's tier, else the key.
    public let name: String?

    /// The longest refill time of an empty bucket (`burst` times the emission interval): ten
    /// years, so instants plus refill times stay far inside 64-bit nanoseconds.
    public static let maximumRefillTime: Duration = .seconds(10 * 365 * 86_400)

    /// Creates a rule and checks it.
    ///
    /// - Parameters:
    ///   - burst: the bucket size; one period's worth (`rate`) when nil.
    /// - Throws: ``ValidationError`` (``ValidationError/Code/invalidConfig``) for a rate,
    ///   burst or period of zero or less, an emission interval under 1 ns, or a refill time
    ///   over ``maximumRefillTime``.
    public init(rate: Int, per period: Duration = .seconds(60), burst: Int? = nil, name: String? = nil) throws {
        let burst = burst ?? rate
        guard rate > 0 else {
            throw Self.invalid("invalid rate \(rate): expected 1 or more units per period")
        }
        guard burst > 0 else {
            throw Self.invalid("invalid burst \(burst): expected 1 or more units")
        }
        guard period > .zero, period <= Self.maximumRefillTime else {
            throw Self.invalid("invalid period \(period): expected more than zero and at most ten years")
        }
        if let name {
            try RateLimiter.validateKey(name, field: "policy name")
        }
        let periodNanoseconds = Self.nanoseconds(period)
        guard periodNanoseconds >= Int64(rate) else {
            throw Self.invalid("invalid rate \(rate) per \(period): at most one unit per nanosecond is supported")
        }
        // Rounding the interval up keeps the admitted rate at or below the configured one.
        let interval = (periodNanoseconds + Int64(rate) - 1) / Int64(rate)
        let (capacity, overflow) = interval.multipliedReportingOverflow(by: Int64(burst))
        guard !overflow, capacity <= Self.nanoseconds(Self.maximumRefillTime) else {
            throw Self.invalid("invalid burst \(burst) at rate \(rate) per \(period): an empty bucket would take over ten years to refill")
        }
        self.rate = rate
        self.period = period
        self.burst = burst
        self.name = name
        self.bucket = GCRA.Bucket(emissionInterval: interval, burst: Int64(burst))
    }

    private init(rate: Int, period: Duration, burst: Int, bucket: GCRA.Bucket) {
        self.rate = rate
        self.period = period
        self.burst = burst
        self.name = nil
        self.bucket = bucket
    }

    /// Returns the rule of a tenant's `apiRequestsPerMinute`: a burst of one minute's worth.
    ///
    /// A limit of 0 gives a bucket that admits nothing. A limit above one unit per nanosecond
    /// is clamped to it, and the burst to the longest refill time.
    static func perMinute(_ limit: Int) -> RateLimitRule {
        let minute: Int64 = 60_000_000_000
        guard limit > 0 else {
            return RateLimitRule(rate: 0, period: .seconds(60), burst: 0, bucket: GCRA.Bucket(emissionInterval: minute, burst: 0))
        }
        let rate = min(Int64(limit), minute)
        let interval = (minute + rate - 1) / rate
        let burst = min(rate, nanoseconds(maximumRefillTime) / interval)
        return RateLimitRule(
            rate: Int(rate), period: .seconds(60), burst: Int(burst), bucket: GCRA.Bucket(emissionInterval: interval, burst: burst))
    }

    /// The GCRA parameters of this rule.
    public let bucket: GCRA.Bucket

    /// The seconds an empty bucket takes to refill, rounded up: the `w` of the policy field.
    public var refillSeconds: Int64 { Self.secondsRoundedUp(bucket.capacity) }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Rounds nanoseconds up to whole seconds, the rule for every header value.
    static func secondsRoundedUp(_ nanoseconds: Int64) -> Int64 {
        nanoseconds <= 0 ? 0 : (nanoseconds - 1) / 1_000_000_000 + 1
    }

    static func invalid(_ message: String) -> ValidationError {
        ValidationError(.invalidConfig, field: "rate limit", message: message)
    }
}
