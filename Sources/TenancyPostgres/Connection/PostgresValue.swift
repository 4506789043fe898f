import Foundation

/// A value bound to a statement parameter, sent in PostgreSQL's text format.
///
/// Text goes with type OID 0 (unknown), so the server infers the parameter's type from the
/// statement (`text`, `jsonb`, `uuid`, ...). The other cases name their type (`int8`,
/// `float8`, `bool`, `bytea`), so `$1 + 1` stays 64-bit.
public enum PostgresValue: Hashable, Sendable {
    case null
    case text(String)
    case integer(Int64)
    case double(Double)
    case boolean(Bool)
    case bytes([UInt8])

    /// The type OID sent with the parameter, from `pg_type`.
    var typeOID: UInt32 {
        switch self {
        case .null, .text: return 0
        case .integer: return 20  // int8
        case .double: return 701  // float8
        case .boolean: return 16  // bool
        case .bytes: return 17  // bytea
        }
    }

    /// The text form PostgreSQL parses, or nil for SQL NULL.
    var encoded: String? {
        switch self {
        case .null:
            return nil
        case .text(let text):
            return text
        case .integer(let value):
            return String(value)
        case .double(let value):
            if value.isNaN { return "NaN" }
            if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
            return "\(value)"
        case .boolean(let value):
            return value ? "true" : "false"
        case .bytes(let bytes):
            return "\\x" + bytes.map { byte in
                let digits = String(byte, radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }.joined()
        }
    }
}

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
}

/// One statement with its bound arguments, for ``PostgresConnection/pipeline(_:)``.
public struct PostgresStatement: Sendable {
    public var sql: String
    public var arguments: [PostgresValue]
    /// Whether the pool's direct path may prepare the statement once per connection, under a
    /// random name, and execute it by that name afterwards (see
    /// ``PostgresConnection/sendAndAwait(_:sessionReset:)``). Set only for the library's own
    /// fixed SQL.
    var preparedPerConnection = false

    public init(_ sql: String, _ arguments: [PostgresValue] = []) {
        self.sql = sql
        self.arguments = arguments
    }
}

/// The column names and type OIDs of a result, shared by all its rows.
final class PostgresColumns: Sendable {
    let names: [String]
    let typeOIDs: [UInt32]
    let indexes: [String: Int]

    init(names: [String], typeOIDs: [UInt32]) {
        self.names = names
        self.typeOIDs = typeOIDs
        var indexes: [String: Int] = [:]
        for (index, name) in names.enumerated() where indexes[name] == nil {
            indexes[name] = index
        }
        self.indexes = indexes
    }
}

/// The outcome of one statement: its rows (empty for commands) and the rows it changed.
public struct PostgresResult: Sendable {
    public let rows: [PostgresRow]
    /// The count from the command tag (`INSERT 0 3` gives 3); 0 for statements without one.
    public let affectedRows: Int
}

/// One row of a result, as the text the server sent for each column.
public struct PostgresRow: Sendable {
    let columns: PostgresColumns
    /// The values in column order, in PostgreSQL's text format; nil for NULL.
    public let values: [String?]

    /// The column names in order.
    public var columnNames: [String] { columns.names }

    private func index(_ column: String) throws -> Int {
        guard let index = columns.indexes[column] else {
            throw PostgresError(.decoding, operation: "decode", message: "no column named '\(column)' in the result")
        }
        return index
    }

    private func mismatch(_ column: String, expected: String) -> PostgresError {
        PostgresError(.decoding, operation: "decode", message: "column '\(column)' is not \(expected)")
    }

    /// Returns whether the named column is NULL.
    public func isNull(_ column: String) throws -> Bool {
        values[try index(column)] == nil
    }

    /// Returns the named column's text, or nil when it is NULL.
    public func optionalText(_ column: String) throws -> String? {
        values[try index(column)]
    }

    /// Returns the named column's text.
    public func text(_ column: String) throws -> String {
        guard let text = try optionalText(column) else { throw mismatch(column, expected: "non-NULL") }
        return text
    }

    /// Returns the named column as a 64-bit integer (`int2`, `int4`, `int8`), or nil when it is NULL.
    public func optionalInteger(_ column: String) throws -> Int64? {
        guard let text = try optionalText(column) else { return nil }
        guard let value = Int64(text) else { throw mismatch(column, expected: "an integer") }
        return value
    }

    /// Returns the named column as a non-NULL 64-bit integer.
    public func integer(_ column: String) throws -> Int64 {
        guard let value = try optionalInteger(column) else { throw mismatch(column, expected: "a non-NULL integer") }
        return value
    }

    /// Returns the named column as a non-NULL `bool`.
    public func boolean(_ column: String) throws -> Bool {
        switch try optionalText(column) {
        case "t"?: return true
        case "f"?: return false
        default: throw mismatch(column, expected: "a non-NULL boolean")
        }
    }

    /// Returns the named column as a non-NULL `float8` (or any type whose text form is a number).
    public func double(_ column: String) throws -> Double {
        guard let text = try optionalText(column), let value = Double(text) else {
            throw mismatch(column, expected: "a non-NULL number")
        }
        return value
    }

    /// Returns the named column as a non-NULL `bytea`, decoded from the hex text format.
    public func bytes(_ column: String) throws -> [UInt8] {
        guard let text = try optionalText(column), text.hasPrefix("\\x"), text.utf8.count % 2 == 0 else {
            throw mismatch(column, expected: "a non-NULL bytea in hex format")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2 - 1)
        var high: UInt8?
        for character in text.utf8.dropFirst(2) {
            guard let digit = hexDigit(character) else { throw mismatch(column, expected: "a non-NULL bytea in hex format") }
            if let first = high {
                bytes.append(first << 4 | digit)
                high = nil
            } else {
                high = digit
            }
        }
        return bytes
    }

    private func hexDigit(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
