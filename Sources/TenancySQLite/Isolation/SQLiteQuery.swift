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
    // The members are inlinable so that building a query in the caller's module is
    // specialized there instead of going through generic calls (about 1.5 microseconds a query
    // otherwise, measured with tenancy-bench isolation).

    /// The statement text, with `?` for each bound value.
    public var sql: String { storedSQL }
    /// The values bound to the `?` placeholders, in order.
    public var bindings: [SQLiteValue] { storedBindings }

    @usableFromInline var storedSQL: String
    @usableFromInline var storedBindings: [SQLiteValue]

    /// Creates a query from trusted SQL text and its bindings.
    @inlinable
    public init(unsafeSQL sql: String, bindings: [SQLiteValue] = []) {
        self.storedSQL = sql
        self.storedBindings = bindings
    }

    @inlinable
    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    @inlinable
    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, bindings: stringInterpolation.bindings)
    }

    /// Builds the text and bindings of an interpolated query.
    public struct StringInterpolation: StringInterpolationProtocol {
        @usableFromInline var sql: String
        @usableFromInline var bindings: [SQLiteValue]

        @inlinable
        public init(literalCapacity: Int, interpolationCount: Int) {
            sql = ""
            sql.reserveCapacity(literalCapacity + interpolationCount)
            bindings = []
            bindings.reserveCapacity(interpolationCount)
        }

        @inlinable
        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Binds a value.
        @inlinable
        public mutating func appendInterpolation(_ value: some SQLiteBindable) {
            sql += "?"
            bindings.append(value.sqliteValue)
        }

        /// Binds a value, or NULL when it is nil.
        @inlinable
        public mutating func appendInterpolation(_ value: (some SQLiteBindable)?) {
            sql += "?"
            bindings.append(value?.sqliteValue ?? .null)
        }

        /// Appends trusted SQL text as it is. Never pass text that comes from outside.
        @inlinable
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
