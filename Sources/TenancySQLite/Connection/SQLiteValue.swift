internal import CSQLite
import Foundation

/// A value SQLite stores, bound to a statement or read from a row.
public enum SQLiteValue: Hashable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// Binds the value to a parameter of a prepared statement (1-based index).
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        switch self {
        case .null:
            return sqlite3_bind_null(statement, index)
        case .integer(let value):
            return sqlite3_bind_int64(statement, index, value)
        case .real(let value):
            return sqlite3_bind_double(statement, index, value)
        case .text(let value):
            return value.withCString { pointer in
                sqlite3_bind_text(statement, index, pointer, Int32(strlen(pointer)), tenancy_sqlite_transient())
            }
        case .blob(let bytes):
            return bytes.withUnsafeBytes { buffer in
                sqlite3_bind_blob(statement, index, buffer.baseAddress, Int32(buffer.count), tenancy_sqlite_transient())
            }
        }
    }

    /// Reads column `index` of the current row.
    static func read(from statement: OpaquePointer, column index: Int32) -> SQLiteValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT:
            return .real(sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(statement, index))
            guard let pointer = sqlite3_column_text(statement, index) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, index))
            guard let pointer = sqlite3_column_blob(statement, index), count > 0 else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: pointer, count: count)))
        default:
            return .null
        }
    }
}

extension SQLiteValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(nilLiteral: ()) { self = .null }
}

/// The column names of a result, shared by all its rows.
final class SQLiteColumns: Sendable {
    let names: [String]
    let indexes: [String: Int]

    init(names: [String]) {
        self.names = names
        var indexes: [String: Int] = [:]
        for (index, name) in names.enumerated() where indexes[name] == nil {
            indexes[name] = index
        }
        self.indexes = indexes
    }
}

/// One row of a query result.
public struct SQLiteRow: Sendable {
    let columns: SQLiteColumns
    /// The values in column order.
    public let values: [SQLiteValue]

    /// The column names in order.
    public var columnNames: [String] { columns.names }

    /// Returns the value of the named column.
    ///
    /// - Throws: ``SQLiteError`` when the result has no such column.
    public func value(_ column: String) throws -> SQLiteValue {
        guard let index = columns.indexes[column] else {
            throw SQLiteError(code: .range, message: "no column named '\(column)' in the result", operation: "decode")
        }
        return values[index]
    }

    /// Returns the named column as text, or nil when it is NULL.
    public func optionalText(_ column: String) throws -> String? {
        switch try value(column) {
        case .null: return nil
        case .text(let text): return text
        default: throw typeMismatch(column, expected: "text")
        }
    }

    /// Returns the named column as non-NULL text.
    public func text(_ column: String) throws -> String {
        guard let text = try optionalText(column) else { throw typeMismatch(column, expected: "non-NULL text") }
        return text
    }

    /// Returns the named column as an integer, or nil when it is NULL.
    public func optionalInteger(_ column: String) throws -> Int64? {
        switch try value(column) {
        case .null: return nil
        case .integer(let value): return value
        default: throw typeMismatch(column, expected: "integer")
        }
    }

    /// Returns the named column as a non-NULL integer.
    public func integer(_ column: String) throws -> Int64 {
        guard let value = try optionalInteger(column) else { throw typeMismatch(column, expected: "non-NULL integer") }
        return value
    }

    private func typeMismatch(_ column: String, expected: String) -> SQLiteError {
        SQLiteError(code: .mismatch, message: "column '\(column)' is not \(expected)", operation: "decode")
    }
}
