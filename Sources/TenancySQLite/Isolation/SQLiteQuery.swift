public import Foundation
public import Tenancy

/// An SQL statement whose interpolated values become bound parameters.
///
/// ```swift
/// try await scope.database.query("SELECT * FROM debates WHERE status = \(status) LIMIT \(limit)")
/// ```
///
/// Interpolating a value writes `?` into the SQL and binds the value, so no value ever becomes
/// SQL text. Raw SQL text can only enter through the visibly unsafe spellings
/// ``init(unsafeSQL:bindings:)`` and `\(unsafeSQL: ...)`, which are for trusted fragments
/// such as a column name chosen from a fixed list.
public struct SQLiteQuery: Sendable, Hashable, ExpressibleByStringInterpolation {
    /// The statement text, with `?` for each bound value.
    public private(set) var sql: String
    /// The values bound to the `?` placeholders, in order.
    public private(set) var bindings: [SQLiteValue]

    /// Creates a query from trusted SQL text and its bindings.
    public init(unsafeSQL sql: String, bindings: [SQLiteValue] = []) {
        self.sql = sql
        self.bindings = bindings
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, bindings: stringInterpolation.bindings)
    }

    /// Builds the text and bindings of an interpolated query.
    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var bindings: [SQLiteValue] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount)
            bindings.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Binds a value.
        public mutating func appendInterpolation(_ value: some SQLiteBindable) {
            sql += "?"
            bindings.append(value.sqliteValue)
        }

        /// Binds a value, or NULL when it is nil.
        public mutating func appendInterpolation(_ value: (some SQLiteBindable)?) {
            sql += "?"
            bindings.append(value?.sqliteValue ?? .null)
        }

        /// Appends trusted SQL text as it is. Never pass text that comes from outside.
        public mutating func appendInterpolation(unsafeSQL text: String) {
            sql += text
        }
    }
}

/// A Swift value that can be bound to an SQL parameter.
public protocol SQLiteBindable: Sendable {
    /// The value as SQLite stores it.
    var sqliteValue: SQLiteValue { get }
}

extension SQLiteValue: SQLiteBindable {
    public var sqliteValue: SQLiteValue { self }
}

extension String: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .text(self) }
}

extension Int: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .integer(Int64(self)) }
}

extension Int64: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .integer(self) }
}

extension Int32: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .integer(Int64(self)) }
}

extension Double: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .real(self) }
}

extension Bool: SQLiteBindable {
    /// 1 or 0, as SQLite stores booleans.
    public var sqliteValue: SQLiteValue { .integer(self ? 1 : 0) }
}

extension Data: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .blob(Array(self)) }
}

extension UUID: SQLiteBindable {
    /// The lowercase text form, as most schemas store UUIDs.
    public var sqliteValue: SQLiteValue { .text(uuidString.lowercased()) }
}

extension Date: SQLiteBindable {
    /// Milliseconds since 1970 as an integer, the form the library's own tables use.
    public var sqliteValue: SQLiteValue { .integer(millisecondsSince1970) }
}

extension TenantID: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .text(rawValue) }
}
