/// The identifier of a tenant.
///
/// A tenant id is 3 to 48 characters of `a-z`, `0-9` and `-`, starts with a letter, has no
/// trailing or doubled hyphen, and is not a reserved word. These rules make it safe as a DNS
/// label, a path component, a Redis key part and (quoted) part of an SQL identifier.
///
/// A string literal is a programmer's value and traps when invalid, as `StaticString` misuse
/// does. Every value that comes from outside (a request, a file, the CLI) goes through
/// ``init(validating:)``, which throws.
public struct TenantID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The validated identifier text.
    public let rawValue: String

    /// The words no tenant id may be, because routes, schemas and hosts use them.
    public static let reservedWords: Set<String> = [
        "admin", "api", "app", "default", "internal", "null", "platform", "public", "root",
        "system", "tenancy", "www",
    ]

    /// The minimum length of a tenant id.
    public static let minimumLength = 3

    /// The maximum length of a tenant id.
    public static let maximumLength = 48

    /// Creates a tenant id from text that comes from outside the program.
    ///
    /// - Throws: ``ValidationError`` with code ``ValidationError/Code/invalidTenantID``
    ///   naming the value and the rule it breaks.
    public init(validating text: String) throws {
        if let problem = Self.problem(with: text) {
            throw ValidationError(
                .invalidTenantID, field: "tenant id",
                message: "invalid tenant id \(Self.quotedForMessage(text)): \(problem)")
        }
        self.rawValue = text
    }

    /// Creates a tenant id without checking it; callers have checked it.
    init(unchecked text: String) {
        self.rawValue = text
    }

    public var description: String { rawValue }

    public static func < (lhs: TenantID, rhs: TenantID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// Returns why `text` is not a valid tenant id, or nil when it is one.
    static func problem(with text: String) -> String? {
        let bytes = Array(text.utf8)
        // Characters are checked first, so the length check below sees only ASCII, where each
        // byte is one character.
        for byte in bytes where !isAllowed(byte) {
            return "only lowercase letters a-z, digits 0-9 and '-' are allowed"
                + (byte >= 0x41 && byte <= 0x5A ? " (no uppercase)" : "")
        }
        if bytes.count < minimumLength || bytes.count > maximumLength {
            return "must be \(minimumLength) to \(maximumLength) characters long, got \(bytes.count)"
        }
        guard let first = bytes.first, isLetter(first) else {
            return "must start with a letter a-z"
        }
        if bytes.last == UInt8(ascii: "-") {
            return "must not end with '-'"
        }
        if text.contains("--") {
            return "must not contain '--'"
        }
        if reservedWords.contains(text) {
            return "'\(text)' is a reserved word; reserved: \(reservedWords.sorted().joined(separator: ", "))"
        }
        return nil
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
    }

    static func isAllowed(_ byte: UInt8) -> Bool {
        isLetter(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-")
    }

    /// Quotes a rejected value for an error message, escaping control characters and cutting
    /// long input, so the message stays one readable line.
    package static func quotedForMessage(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars.prefix(64) {
            escaped += scalar.properties.generalCategory == .control
                ? scalar.escaped(asASCII: true) : String(scalar)
        }
        let cut = text.unicodeScalars.count > 64 ? "..." : ""
        return "\"\(escaped)\(cut)\""
    }
}

extension TenantID: ExpressibleByStringLiteral {
    /// Creates a tenant id from a literal written in code; an invalid literal is a programmer
    /// error and traps with the reason.
    public init(stringLiteral value: StaticString) {
        let text = value.description
        if let problem = Self.problem(with: text) {
            preconditionFailure("invalid tenant id literal \(Self.quotedForMessage(text)): \(problem)")
        }
        self.rawValue = text
    }
}

extension TenantID: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(validating: try container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
