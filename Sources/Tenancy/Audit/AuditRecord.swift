public import Foundation

/// One entry of the append-only audit trail.
///
/// Records hold ids, actions, outcomes and times, never personal data or secrets, so nothing in
/// them needs erasing when a tenant is purged. Reasons given by code or operators are recorded:
/// they must not carry personal data either.
public struct AuditRecord: Hashable, Sendable, Codable {
    /// The position in the trail, assigned by the store when the record is appended.
    public var sequence: Int64?
    public var time: Date
    /// The tenant acted on; nil for platform-wide actions.
    public var tenantID: TenantID?
    /// The principal that acted, when one was bound.
    public var principalID: String?
    public var action: AuditAction
    public var outcome: AuditOutcome
    /// Identifiers and values that explain the action, such as `active -> suspended`.
    public var detail: String?

    public init(
        sequence: Int64? = nil, time: Date, tenantID: TenantID?, principalID: String?,
        action: AuditAction, outcome: AuditOutcome, detail: String? = nil
    ) {
        self.sequence = sequence
        self.time = time
        self.tenantID = tenantID
        self.principalID = principalID
        self.action = action
        self.outcome = outcome
        self.detail = detail
    }
}

/// The kind of an audited action, as a dotted name such as `tenant.created`.
public struct AuditAction: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static let tenantCreated: AuditAction = "tenant.created"
    public static let statusChanged: AuditAction = "tenant.status-changed"
    public static let tierChanged: AuditAction = "tenant.tier-changed"
    public static let configChanged: AuditAction = "tenant.config-changed"
    public static let tenantCancelled: AuditAction = "tenant.cancelled"
    public static let purgeStarted: AuditAction = "tenant.purge-started"
    public static let purgerFinished: AuditAction = "tenant.purger-finished"
    public static let tenantDeleted: AuditAction = "tenant.deleted"
    public static let crossTenantAccess: AuditAction = "context.cross-tenant-access"
    public static let platformScope: AuditAction = "context.platform-scope"
}

/// Whether the audited action happened.
public enum AuditOutcome: String, Hashable, Sendable, Codable, CustomStringConvertible {
    case success
    /// Refused by a check (an invalid transition, a cross-tenant attempt, a status).
    case denied
    /// Attempted and failed (a backend error, a purger error).
    case failed

    public var description: String { rawValue }
}

/// A filter and page over the audit trail.
public struct AuditQuery: Hashable, Sendable {
    /// Only records of this tenant; nil for all.
    public var tenantID: TenantID?
    /// Only records with a sequence greater than this, for paging.
    public var afterSequence: Int64?
    /// The maximum number of records, oldest first.
    public var limit: Int

    public init(tenantID: TenantID? = nil, afterSequence: Int64? = nil, limit: Int = 100) {
        self.tenantID = tenantID
        self.afterSequence = afterSequence
        self.limit = limit
    }
}

extension AuditQuery {
    /// Checks the page size.
    package func validate() throws {
        guard (1...10_000).contains(limit) else {
            throw ValidationError(
                .invalidArgument, field: "limit", message: "invalid audit page size \(limit): expected 1 to 10,000")
        }
    }
}

/// Storage for the audit trail. Stores keep it append-only: no API updates or deletes a record,
/// and the backends reject such statements (SQLite with triggers, PostgreSQL with grants).
public protocol AuditStore: Sendable {
    /// Appends a record and returns it with its sequence.
    @discardableResult
    func append(_ record: AuditRecord) async throws -> AuditRecord
    /// Returns records oldest first, as the query selects.
    func records(_ query: AuditQuery) async throws -> [AuditRecord]
}
