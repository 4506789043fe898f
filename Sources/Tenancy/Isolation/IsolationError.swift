/// A tenant statement or an isolation set-up that the library refused; nothing ran.
///
/// The description names the table, index, statement form or limit involved and what to do
/// instead. It never contains SQL argument values or row contents; it may name identifiers.
public struct IsolationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was refused, for matching in `catch` clauses.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        public init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        /// The isolation guards denied the statement (a base table, DDL, `ATTACH`, a forbidden
        /// function or pragma, another tenant's row).
        public static let denied = Code("denied")
        /// The statement uses a form that cannot work behind the isolation layer, such as
        /// `RETURNING` on a pooled table.
        public static let unsupportedStatement = Code("unsupportedStatement")
        /// The statement ran past the statement time limit and was interrupted.
        public static let timeLimitExceeded = Code("timeLimitExceeded")
        /// A string or blob grew past the length limit.
        public static let lengthLimitExceeded = Code("lengthLimitExceeded")
        /// A table cannot be protected as it is (for example its key does not lead with
        /// `tenant_id`).
        public static let invalidTable = Code("invalidTable")
        /// The database or placement cannot honour the requested isolation options.
        public static let unavailable = Code("unavailable")
    }

    public let code: Code
    /// What was refused and what to do instead.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
