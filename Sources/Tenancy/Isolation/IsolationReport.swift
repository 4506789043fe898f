/// What an isolation verifier found: the state of each protected table, findings, and the
/// results of live probes.
public struct IsolationReport: Hashable, Sendable, Codable {
    /// The state of one protected table.
    public struct Table: Hashable, Sendable, Codable {
        public var name: String
        /// Whether the filtering view (or, on PostgreSQL, the enabled and forced policy) exists.
        public var filtered: Bool
        /// Whether the write path (triggers, or policies with both clauses) is complete.
        public var writesConfined: Bool
        /// Whether `tenant_id` leads the primary key and every unique index.
        public var keyLeadsWithTenantID: Bool

        public init(name: String, filtered: Bool, writesConfined: Bool, keyLeadsWithTenantID: Bool) {
            self.name = name
            self.filtered = filtered
            self.writesConfined = writesConfined
            self.keyLeadsWithTenantID = keyLeadsWithTenantID
        }
    }

    /// A problem in the catalog, such as an unprotected table with a `tenant_id` column.
    public struct Finding: Hashable, Sendable, Codable {
        /// The table, view, trigger or role concerned.
        public var subject: String
        public var message: String

        public init(subject: String, message: String) {
            self.subject = subject
            self.message = message
        }
    }

    /// The result of one live probe, such as "tenant A cannot update B's rows".
    public struct Probe: Hashable, Sendable, Codable {
        public var name: String
        public var passed: Bool
        /// What was observed.
        public var detail: String

        public init(name: String, passed: Bool, detail: String) {
            self.name = name
            self.passed = passed
            self.detail = detail
        }
    }

    public var tables: [Table]
    public var findings: [Finding]
    public var probes: [Probe]

    public init(tables: [Table], findings: [Finding], probes: [Probe]) {
        self.tables = tables
        self.findings = findings
        self.probes = probes
    }

    /// Whether nothing was found and every probe passed.
    public var passed: Bool {
        findings.isEmpty && probes.allSatisfy(\.passed)
    }
}
