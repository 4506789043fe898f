internal import CCrypto
import Foundation
import Synchronization
import Tenancy

/// The key that signs tenant bindings, shared by the application process and the database.
///
/// The application gets it from configuration (``fromEnvironment(_:)``), and the owner role
/// stores it in a table the application role cannot read. ``description`` never shows it.
public struct PostgresBindingSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The key bytes: 32 to 64, because the database computes HMAC-SHA256 with the key padded
    /// to SHA-256's 64-byte block, which is correct only for keys of at most 64 bytes.
    let bytes: [UInt8]
    /// Tags already computed for the current minute, shared by copies of this secret.
    private let recentTags = RecentTags()

    /// The environment variable ``fromEnvironment(_:)`` reads by default.
    public static let environmentVariable = "TENANCY_BINDING_SECRET"

    /// Creates a secret from raw bytes.
    ///
    /// - Throws: ``IsolationError`` with code ``IsolationError/Code/unavailable`` unless there
    ///   are 32 to 64 bytes.
    public init(bytes: [UInt8]) throws {
        guard (32...64).contains(bytes.count) else {
            throw IsolationError(
                .unavailable, "invalid binding secret: expected 32 to 64 bytes, got \(bytes.count); generate one with PostgresBindingSecret.generate()")
        }
        self.bytes = bytes
    }

    /// Creates a secret from 64 to 128 hexadecimal digits.
    public init(hex: String) throws {
        let digits = Array(hex.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard digits.count % 2 == 0 else {
            throw IsolationError(.unavailable, "invalid binding secret: expected an even number of hexadecimal digits")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = Self.hexValue(digits[index]), let low = Self.hexValue(digits[index + 1]) else {
                throw IsolationError(.unavailable, "invalid binding secret: expected only hexadecimal digits")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        try self.init(bytes: bytes)
    }

    /// Reads the secret, as hexadecimal digits, from an environment variable.
    ///
    /// - Throws: ``IsolationError`` naming the variable when it is missing or invalid.
    public static func fromEnvironment(_ name: String = environmentVariable) throws -> PostgresBindingSecret {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw IsolationError(
                .unavailable,
                "missing binding secret: set \(name) to the hexadecimal secret stored at install time (PostgresBindingSecret.generate().hexEncoded makes one)")
        }
        do {
            return try PostgresBindingSecret(hex: value)
        } catch let error as IsolationError {
            throw IsolationError(.unavailable, "\(name): \(error.message)")
        }
    }

    /// Returns a new random 32-byte secret from the system's cryptographically secure
    /// generator (`getrandom` on Linux).
    public static func generate() -> PostgresBindingSecret {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        // 32 bytes is always in range.
        return try! PostgresBindingSecret(bytes: bytes)
    }

    /// The secret as lowercase hexadecimal digits, the form ``fromEnvironment(_:)`` reads.
    /// Sensitive: hand it to the deployment's secret store, never to a log.
    public var hexEncoded: String { Self.hex(bytes) }

    public var description: String { "PostgresBindingSecret(redacted)" }
    public var debugDescription: String { description }

    /// Returns the key XOR-ed with HMAC's inner (0x36) or outer (0x5c) pad, for the database's copy.
    func paddedKey(_ pad: UInt8) -> [UInt8] {
        (bytes + [UInt8](repeating: 0, count: 64 - bytes.count)).map { $0 ^ pad }
    }

    /// Returns the tag that binds `tenant` for `minute` (minutes since 1970, UTC): the minute
    /// as 12 zero-padded digits, a colon, and the hexadecimal HMAC-SHA256 of
    /// `tenant + ":" + those digits` under the secret. 77 characters in all.
    func tag(tenant: String, minute: Int64) -> String {
        let digits = String(minute)
        let paddedMinute = String(repeating: "0", count: max(0, 12 - digits.count)) + digits
        let code = HMACSHA256.authenticationCode(key: bytes, message: Array("\(tenant):\(paddedMinute)".utf8))
        return paddedMinute + ":" + Self.hex(code)
    }

    /// Returns ``tag(tenant:minute:)`` from a table of the current minute's tags, computing it
    /// when it is missing, because an HMAC through OpenSSL costs more than the rest of building
    /// a statement.
    func cachedTag(tenant: String, minute: Int64) -> String {
        if let tag = recentTags.tag(tenant: tenant, minute: minute) { return tag }
        let tag = tag(tenant: tenant, minute: minute)
        recentTags.store(tag, tenant: tenant, minute: minute)
        return tag
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func hexValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// The tags of one minute by tenant. A new minute starts an empty table, so its size is the
/// number of tenants active within a minute.
private final class RecentTags: Sendable {
    private struct Table {
        var minute: Int64 = -1
        var tags: [String: String] = [:]
    }

    private let table = Mutex(Table())

    func tag(tenant: String, minute: Int64) -> String? {
        table.withLock { $0.minute == minute ? $0.tags[tenant] : nil }
    }

    func store(_ tag: String, tenant: String, minute: Int64) {
        table.withLock { table in
            if table.minute != minute {
                table = Table(minute: minute)
            }
            table.tags[tenant] = tag
        }
    }
}

/// HMAC-SHA256 through OpenSSL's libcrypto.
enum HMACSHA256 {
    /// Returns the 32-byte authentication code of `message` under `key`.
    static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var code = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let result = key.withUnsafeBufferPointer { keyBuffer in
            message.withUnsafeBufferPointer { messageBuffer in
                code.withUnsafeMutableBufferPointer { codeBuffer in
                    HMAC(EVP_sha256(), keyBuffer.baseAddress, Int32(keyBuffer.count), messageBuffer.baseAddress, messageBuffer.count, codeBuffer.baseAddress, &length)
                }
            }
        }
        // HMAC fails only when OpenSSL cannot allocate or lacks SHA-256, which leaves no safe
        // way to go on.
        precondition(result != nil && length == 32, "OpenSSL HMAC-SHA256 failed")
        return code
    }
}

/// The check that `current_tenant()` runs in the database, found when a
/// ``PostgresTenantDatabase`` opens.
public enum PostgresBindingCheck: String, Sendable {
    /// The trusted binding: the setting `tenancy.tenant_id` itself.
    case trusted
    /// The verified binding in PL/pgSQL: each statement's policy checks the tag in the
    /// settings, and the pool resets the session after each tenant statement.
    case plpgsql
    /// The verified binding in C, from the `tenancy_binding` library: `bind_tenant` checks the
    /// tag and keeps the tenant in the backend's memory for the transaction, and the
    /// transaction's end resets the session, with no statement of the pool's.
    case library

    /// A short description for people: `C check from the tenancy_binding library`,
    /// `PL/pgSQL check` or `trusted, no check`.
    public var displayName: String {
        switch self {
        case .trusted: return "trusted, no check"
        case .plpgsql: return "PL/pgSQL check"
        case .library: return "C check from the \(PostgresRowLevelSecurity.bindingLibrary) library"
        }
    }
}

/// The way tenant statements tell the database which tenant they run as.
public enum PostgresTenantBinding: Sendable {
    /// The default: the tenant id and a tag signed with the secret, checked by the database,
    /// so SQL that sets `tenancy.tenant_id` itself sees no rows of the tenant it names.
    case verified(PostgresBindingSecret)
    /// The tenant id alone, with no check. Any SQL the application role runs can switch
    /// tenants with `set_config`, so choose it only when every statement is trusted code.
    case trusted

    /// The name stored in the database when the policies' function is installed.
    var modeName: String {
        switch self {
        case .verified: return "verified"
        case .trusted: return "trusted"
        }
    }

    /// Returns the statement that binds `tenant` (or, for nil, no tenant) for the rest of the
    /// transaction. With ``sql`` it always sets both settings, so no value that earlier SQL left
    /// on a pooled connection's session is ever used. With the C check's
    /// ``librarySQL(quotedSchema:)`` the first two arguments are the same, and the third is
    /// `endsAfterMilliseconds`.
    func statement(tenant: TenantID?, now: Date = Date(), sql: String = Self.sql, endsAfterMilliseconds: Int64? = nil) -> PostgresStatement {
        var arguments = arguments(tenant: tenant, now: now)
        if let endsAfterMilliseconds {
            arguments.append(.integer(endsAfterMilliseconds))
        }
        var statement = PostgresStatement(sql, arguments)
        // It sets transaction-local state and nothing else.
        statement.repeatable = true
        return statement
    }

    /// Returns the binding statement's SQL for the C check. `bind_tenant` verifies the tag and
    /// keeps the tenant for the transaction, or unbinds for an empty tenant. Its third argument
    /// arms a timer that ends the backend when the transaction runs that many milliseconds,
    /// because SQL can catch the cancel request that the pool's time limit sends.
    static func librarySQL(quotedSchema: String) -> String {
        "SELECT \(quotedSchema).bind_tenant($1, $2, $3)"
    }

    /// Returns the third argument of ``librarySQL(quotedSchema:)`` for a pool with `timeLimit`:
    /// twice the limit plus a second, or 0 without a limit. The pool's cancel at the limit, and
    /// its giving up at twice the limit, so come first.
    static func endsAfterMilliseconds(timeLimit: Duration?) -> Int64 {
        guard let timeLimit else { return 0 }
        let (seconds, attoseconds) = timeLimit.components
        let milliseconds = seconds.multipliedReportingOverflow(by: 1_000).partialValue + attoseconds / 1_000_000_000_000_000
        return milliseconds.multipliedReportingOverflow(by: 2).partialValue + 1_000
    }

    /// Sets the tenant, the tag, and `tenancy.bound_at` to the transaction's start time
    /// (`now()`), which the verified check compares with its own transaction's, so a copy of
    /// the settings that tenant SQL saves in the session (`set_config(..., false)`) binds no
    /// later transaction.
    static let sql = """
        SELECT pg_catalog.set_config('tenancy.tenant_id', $1, true), pg_catalog.set_config('tenancy.tag', $2, true), \
        pg_catalog.set_config('tenancy.bound_at', pg_catalog.now()::pg_catalog.text, true)
        """

    private func arguments(tenant: TenantID?, now: Date) -> [PostgresValue] {
        guard let tenant else { return [.text(""), .text("")] }
        switch self {
        case .verified(let secret):
            let minute = Int64((now.timeIntervalSince1970 / 60).rounded(.down))
            return [.text(tenant.rawValue), .text(secret.cachedTag(tenant: tenant.rawValue, minute: minute))]
        case .trusted:
            return [.text(tenant.rawValue), .text("")]
        }
    }
}

/// The binding statement of one binding mode and check: its SQL, and with the C check the time
/// after which the database ends a tenant transaction's backend.
struct PostgresBindingStatement: Sendable {
    let binding: PostgresTenantBinding
    let sql: String
    /// Set with the C check only; see ``PostgresTenantBinding/endsAfterMilliseconds(timeLimit:)``.
    let endsAfterMilliseconds: Int64?

    init(binding: PostgresTenantBinding, sql: String = PostgresTenantBinding.sql, endsAfterMilliseconds: Int64? = nil) {
        self.binding = binding
        self.sql = sql
        self.endsAfterMilliseconds = endsAfterMilliseconds
    }

    /// Creates the statement that `check` needs, for a pool with `timeLimit`.
    init(_ binding: PostgresTenantBinding, check: PostgresBindingCheck, quotedSchema: String, timeLimit: Duration?) {
        if check == .library {
            self.init(
                binding: binding, sql: PostgresTenantBinding.librarySQL(quotedSchema: quotedSchema),
                endsAfterMilliseconds: PostgresTenantBinding.endsAfterMilliseconds(timeLimit: timeLimit))
        } else {
            self.init(binding: binding)
        }
    }

    /// Returns the statement that binds `tenant`, or no tenant for nil.
    func statement(tenant: TenantID?) -> PostgresStatement {
        binding.statement(tenant: tenant, sql: sql, endsAfterMilliseconds: endsAfterMilliseconds)
    }
}
