/// An input value that breaks a rule; nothing was changed.
///
/// The description names the field and the rule. It contains the rejected value only for
/// identifiers (tenant ids, quota names, time zones); e-mail addresses, names and free text are
/// never repeated in it.
public struct ValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of value was rejected, for matching in `catch` clauses.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        public init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        public static let invalidTenantID = Code("invalidTenantID")
        public static let invalidName = Code("invalidName")
        public static let invalidEmail = Code("invalidEmail")
        public static let invalidTimeZone = Code("invalidTimeZone")
        public static let invalidReason = Code("invalidReason")
        public static let invalidMetadata = Code("invalidMetadata")
        public static let invalidConfig = Code("invalidConfig")
        public static let invalidArgument = Code("invalidArgument")
    }

    /// The kind of value rejected.
    public let code: Code
    /// The name of the rejected field or parameter, such as `tenant id` or `admin e-mail`.
    public let field: String
    /// What is wrong and what is expected.
    public let message: String

    public init(_ code: Code, field: String, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String { message }
}
