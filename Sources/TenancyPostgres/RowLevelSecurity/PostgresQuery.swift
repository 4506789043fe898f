public import Foundation
public import Tenancy

/// An SQL statement whose interpolated values become bound parameters.
///
/// ```swift
/// try await scope.database.query("SELECT * FROM debates WHERE status = \(status) LIMIT \(limit)")
/// ```
///
/// Interpolating a value writes `$1`, `$2`, ... into the SQL and binds the value, so no value
/// ever becomes SQL text. Raw SQL text can only enter through the visibly unsafe spellings
/// ``init(unsafeSQL:arguments:)`` and `\(unsafeSQL: ...)`, which are for trusted fragments
/// such as a column name chosen from a fixed list.
public struct PostgresQuery: Sendable, Hashable, ExpressibleByStringInterpolation {
    /// The statement text, with `$n` for each bound value.
    public var sql: String
    /// The values bound to `$1`, `$2`, ... in order.
    public var arguments: [PostgresValue]

    /// Creates a query from trusted SQL text and its arguments.
    public init(unsafeSQL sql: String, arguments: [PostgresValue] = []) {
        self.sql = sql
        self.arguments = arguments
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, arguments: stringInterpolation.arguments)
    }

    /// Builds the text and arguments of an interpolated query.
    public struct StringInterpolation: StringInterpolationProtocol {
        var sql: String
        var arguments: [PostgresValue]

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql = ""
            sql.reserveCapacity(literalCapacity + 3 * interpolationCount)
            arguments = []
            arguments.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Binds a value.
        public mutating func appendInterpolation(_ value: some PostgresBindable) {
            arguments.append(value.postgresValue)
            sql += "$\(arguments.count)"
        }

        /// Binds a value, or NULL when it is nil.
        public mutating func appendInterpolation(_ value: (some PostgresBindable)?) {
            arguments.append(value?.postgresValue ?? .null)
            sql += "$\(arguments.count)"
        }

        /// Appends trusted SQL text as it is. Never pass text that comes from outside.
        public mutating func appendInterpolation(unsafeSQL text: String) {
            sql += text
        }
    }

    var statement: PostgresStatement { PostgresStatement(sql, arguments) }
}

/// A Swift value that can be bound to a PostgreSQL parameter.
public protocol PostgresBindable: Sendable {
    /// The value as it is sent.
    var postgresValue: PostgresValue { get }
}

extension PostgresValue: PostgresBindable {
    public var postgresValue: PostgresValue { self }
}

extension String: PostgresBindable {
    public var postgresValue: PostgresValue { .text(self) }
}

extension Int: PostgresBindable {
    public var postgresValue: PostgresValue { .integer(Int64(self)) }
}

extension Int64: PostgresBindable {
    public var postgresValue: PostgresValue { .integer(self) }
}

extension Int32: PostgresBindable {
    public var postgresValue: PostgresValue { .integer(Int64(self)) }
}

extension Double: PostgresBindable {
    public var postgresValue: PostgresValue { .double(self) }
}

extension Bool: PostgresBindable {
    public var postgresValue: PostgresValue { .boolean(self) }
}

extension Data: PostgresBindable {
    public var postgresValue: PostgresValue { .bytes(Array(self)) }
}

extension UUID: PostgresBindable {
    /// The lowercase text form; PostgreSQL's `uuid` type parses it.
    public var postgresValue: PostgresValue { .text(uuidString.lowercased()) }
}

extension TenantID: PostgresBindable {
    public var postgresValue: PostgresValue { .text(rawValue) }
}
