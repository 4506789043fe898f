/// The answer of ``RateLimiter/acquire(tenantID:key:cost:)`` and the header fields that
/// carry it.
///
/// The fields are `RateLimit-Policy: "<name>";q=<burst>;w=<seconds>` and
/// `RateLimit: "<name>";r=<remaining>;t=<seconds>`, the two fields of
/// draft-ietf-httpapi-ratelimit-headers since draft -08, plus `Retry-After: <seconds>` when
/// refused. Seconds are rounded up. See docs/rate-limits.md for the draft versions.
public struct RateLimitDecision: Hashable, Sendable {
    /// Whether the request was admitted (and charged).
    public let allowed: Bool
    /// The policy name: the rule's name, else the tenant's tier, else the key.
    public let policyName: String
    /// The tenant's burst: the `q` of the policy field.
    public let limit: Int
    /// The seconds an empty bucket takes to refill: the `w` of the policy field.
    public let windowSeconds: Int
    /// The unit requests that would be admitted right now, the smallest over the tenant's and
    /// the aggregate buckets: the `r` of the `RateLimit` field. 0 for a request whose cost
    /// is above a burst.
    public let remaining: Int
    /// The seconds until the tenant's bucket is full again: the `t` of the `RateLimit` field.
    public let resetSeconds: Int
    /// The seconds until this request would be admitted, when refused; nil when admitted, and
    /// when the cost is above a burst, so no wait would help.
    public let retryAfterSeconds: Int?
    /// Nanoseconds until this request would be admitted, when refused and admissible later.
    public let retryAfterNanoseconds: Int64?

    init(policyName: String, rule: RateLimitRule, results: [GCRA.Result]) {
        let allowed = results.allSatisfy(\.allowed)
        let neverAdmitted = results.contains { $0.retryAfter == nil }
        let own = results[0]
        self.allowed = allowed
        self.policyName = policyName
        self.limit = Int(rule.bucket.burst)
        self.windowSeconds = Int(RateLimitRule.secondsRoundedUp(rule.bucket.capacity))
        self.remaining = neverAdmitted ? 0 : Int(results.map(\.remaining).min() ?? 0)
        self.resetSeconds = Int(RateLimitRule.secondsRoundedUp(own.resetAfter))
        if allowed || neverAdmitted {
            retryAfterNanoseconds = nil
        } else {
            retryAfterNanoseconds = results.compactMap(\.retryAfter).max()
        }
        retryAfterSeconds = retryAfterNanoseconds.map { Int(RateLimitRule.secondsRoundedUp($0)) }
    }

    /// The header fields to send, in order: `RateLimit-Policy`, `RateLimit`, and `Retry-After`
    /// when refused and a retry can succeed.
    public var headerFields: [(name: String, value: String)] {
        var fields = [
            (name: "RateLimit-Policy", value: "\"\(policyName)\";q=\(limit);w=\(windowSeconds)"),
            (name: "RateLimit", value: "\"\(policyName)\";r=\(remaining);t=\(resetSeconds)"),
        ]
        if let retryAfterSeconds {
            fields.append((name: "Retry-After", value: "\(retryAfterSeconds)"))
        }
        return fields
    }
}
