import Foundation

/// The checks every public entry applies to names, e-mail addresses, time zones, reasons and
/// metadata before anything is stored.
public enum InputRules {
    /// The maximum length of a display name, in characters.
    public static let maximumNameLength = 200
    /// The maximum length of an e-mail address, in characters.
    public static let maximumEmailLength = 254
    /// The maximum length of a reason (suspension, cross-tenant access, platform scope).
    public static let maximumReasonLength = 500

    /// Returns the trimmed display name.
    ///
    /// - Throws: ``ValidationError`` (``ValidationError/Code/invalidName``) when the name is
    ///   empty after trimming, longer than 200 characters, or contains a control character.
    public static func validatedName(_ name: String) throws -> String {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            throw ValidationError(.invalidName, field: "name", message: "invalid name: must not be empty")
        }
        if trimmed.count > maximumNameLength {
            throw ValidationError(
                .invalidName, field: "name",
                message: "invalid name: must be at most \(maximumNameLength) characters, got \(trimmed.count)")
        }
        if containsControlCharacter(trimmed) || containsInvisibleFormatting(trimmed) {
            throw ValidationError(
                .invalidName, field: "name",
                message: "invalid name: must not contain control characters, line separators or invisible formatting characters such as bidirectional overrides")
        }
        return trimmed
    }

    /// Returns the e-mail address unchanged when it has the shape an admin address needs.
    ///
    /// The rules: one `@`, a non-empty local part of at most 64 characters, a domain with a dot
    /// that neither starts nor ends it, no spaces or control characters, at most 254 characters.
    /// The address is never repeated in the error, because it is personal data.
    public static func validatedEmail(_ email: String) throws -> String {
        func reject(_ reason: String) -> ValidationError {
            ValidationError(.invalidEmail, field: "admin e-mail", message: "invalid admin e-mail: \(reason)")
        }
        if email.isEmpty { throw reject("must not be empty") }
        if email.count > maximumEmailLength {
            throw reject("must be at most \(maximumEmailLength) characters, got \(email.count)")
        }
        if email.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
            throw reject("must not contain spaces or control characters")
        }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        if parts.count != 2 { throw reject("must contain exactly one '@'") }
        let local = parts[0]
        let domain = parts[1]
        if local.isEmpty { throw reject("the part before '@' must not be empty") }
        if local.count > 64 { throw reject("the part before '@' must be at most 64 characters") }
        if !domain.contains(".") || domain.hasPrefix(".") || domain.hasSuffix(".") || domain.contains("..") {
            throw reject("the domain after '@' must contain a dot between two labels, as in example.com")
        }
        return email
    }

    /// Returns the time zone identifier when it is a known IANA identifier such as
    /// `Europe/Berlin` or `UTC`.
    public static func validatedTimeZone(_ identifier: String) throws -> String {
        let known = identifier == "UTC" || TimeZone.knownTimeZoneIdentifiers.contains(identifier)
        guard known, TimeZone(identifier: identifier) != nil else {
            throw ValidationError(
                .invalidTimeZone, field: "time zone",
                message: "invalid time zone \(TenantID.quotedForMessage(identifier)): expected an IANA identifier such as UTC or Europe/Berlin")
        }
        return identifier
    }

    /// Returns the trimmed reason: 1 to 500 characters, no control characters, no `@`.
    ///
    /// Reasons are stored in the audit trail, which holds no personal data, so a reason that
    /// looks like it contains an e-mail address (any `@`) is rejected.
    public static func validatedReason(_ reason: String) throws -> String {
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            throw ValidationError(.invalidReason, field: "reason", message: "invalid reason: must not be empty")
        }
        if trimmed.count > maximumReasonLength {
            throw ValidationError(
                .invalidReason, field: "reason",
                message: "invalid reason: must be at most \(maximumReasonLength) characters, got \(trimmed.count)")
        }
        if containsControlCharacter(trimmed) || containsInvisibleFormatting(trimmed) {
            throw ValidationError(
                .invalidReason, field: "reason", message: "invalid reason: must not contain control or invisible formatting characters")
        }
        if trimmed.contains("@") {
            throw ValidationError(
                .invalidReason, field: "reason",
                message: "invalid reason: must not contain '@', because reasons go to the audit trail, which holds no e-mail addresses or other personal data")
        }
        return trimmed
    }

    /// Checks tenant metadata: at most 64 entries, keys of 1 to 64 characters of `a-z 0-9 . _ -`,
    /// values of at most 1,024 characters without control characters.
    public static func validateMetadata(_ metadata: [String: String]) throws {
        if metadata.count > 64 {
            throw ValidationError(
                .invalidMetadata, field: "metadata",
                message: "invalid metadata: at most 64 entries are allowed, got \(metadata.count)")
        }
        for (key, value) in metadata {
            let keyIsValid = (1...64).contains(key.utf8.count) && key.utf8.allSatisfy {
                TenantID.isAllowed($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
            }
            if !keyIsValid {
                throw ValidationError(
                    .invalidMetadata, field: "metadata",
                    message: "invalid metadata key \(TenantID.quotedForMessage(key)): expected 1 to 64 characters of a-z, 0-9, '.', '_' and '-'")
            }
            if value.count > 1024 || containsControlCharacter(value) {
                throw ValidationError(
                    .invalidMetadata, field: "metadata",
                    message: "invalid metadata value for key '\(key)': expected at most 1,024 characters without control characters")
            }
        }
    }

    static func containsControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// Whether the text has format characters (bidirectional overrides, zero-width spaces) or
    /// line and paragraph separators, which can disguise a name in tables and logs. The
    /// zero-width joiner and non-joiner stay allowed, because scripts and emoji need them.
    static func containsInvisibleFormatting(_ text: String) -> Bool {
        text.unicodeScalars.contains { scalar in
            switch scalar.properties.generalCategory {
            case .format: scalar.value != 0x200C && scalar.value != 0x200D
            case .lineSeparator, .paragraphSeparator: true
            default: false
            }
        }
    }
}
