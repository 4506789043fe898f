internal import CLibPQ

/// An error from the PostgreSQL backend: from the server (with its SQLSTATE), from libpq, or
/// from the library's pool and decoding.
///
/// ``description`` contains the kind, the operation, the SQLSTATE with its condition name, and the
/// identifiers the server reports separately (schema, table, column, data type, constraint).
/// It never holds the server's message text, because PostgreSQL puts values into it (an
/// invalid input, the key of a unique violation), nor SQL text or argument values. Those are
/// only in ``debugDescription`` and ``serverMessage``: treat them as sensitive.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of failure.
    public enum Kind: String, Hashable, Sendable {
        /// The configuration or URL is invalid.
        case invalidConfiguration = "invalid configuration"
        /// Connecting or authenticating failed.
        case connectionFailed = "connection failed"
        /// The connection broke during use, or was closed; the pool replaces it.
        case connectionBroken = "connection broken"
        /// The server rejected the statement; ``PostgresError/code`` contains the SQLSTATE.
        case server = "server error"
        /// The statement ran past the statement time limit and was cancelled.
        case statementTimedOut = "statement timed out"
        /// No pooled connection became free within the checkout timeout.
        case checkoutTimedOut = "checkout timed out"
        /// The pool was closed.
        case poolClosed = "pool closed"
        /// A statement or argument the library cannot send, such as text containing NUL.
        case invalidArgument = "invalid argument"
        /// A result column did not have the expected type or was missing.
        case decoding = "decoding failed"
        /// libpq returned something the library did not expect.
        case protocolViolation = "protocol violation"
    }

    /// A five-character SQLSTATE, matchable in `catch` clauses:
    /// `catch let error as PostgresError where error.code == .uniqueViolation`.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
        public let rawValue: String

        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }

        /// The first two characters, which name the class (`23` is integrity constraint
        /// violation).
        public var errorClass: String { String(rawValue.prefix(2)) }

        public static let uniqueViolation: Code = "23505"
        public static let foreignKeyViolation: Code = "23503"
        public static let notNullViolation: Code = "23502"
        public static let checkViolation: Code = "23514"
        public static let exclusionViolation: Code = "23P01"
        public static let insufficientPrivilege: Code = "42501"
        /// Raised by the C binding check when a tag does not verify (see ``PostgresBindingCheck/library``).
        public static let invalidAuthorizationSpecification: Code = "28000"
        public static let undefinedTable: Code = "42P01"
        public static let undefinedColumn: Code = "42703"
        public static let undefinedFunction: Code = "42883"
        public static let syntaxError: Code = "42601"
        public static let duplicateObject: Code = "42710"
        public static let invalidTextRepresentation: Code = "22P02"
        public static let numericValueOutOfRange: Code = "22003"
        public static let stringDataRightTruncation: Code = "22001"
        public static let raiseException: Code = "P0001"
        public static let serializationFailure: Code = "40001"
        public static let deadlockDetected: Code = "40P01"
        public static let inFailedTransaction: Code = "25P02"
        public static let lockNotAvailable: Code = "55P03"
        public static let queryCanceled: Code = "57014"
        public static let adminShutdown: Code = "57P01"
        public static let tooManyConnections: Code = "53300"
        public static let invalidPassword: Code = "28P01"
        public static let invalidSQLStatementName: Code = "26000"
        public static let featureNotSupported: Code = "0A000"

        static let names: [Code: String] = [
            .uniqueViolation: "unique_violation", .foreignKeyViolation: "foreign_key_violation",
            .notNullViolation: "not_null_violation", .checkViolation: "check_violation",
            .exclusionViolation: "exclusion_violation", .insufficientPrivilege: "insufficient_privilege",
            .undefinedTable: "undefined_table", .undefinedColumn: "undefined_column",
            .undefinedFunction: "undefined_function", .syntaxError: "syntax_error",
            .duplicateObject: "duplicate_object", .invalidTextRepresentation: "invalid_text_representation",
            .numericValueOutOfRange: "numeric_value_out_of_range",
            .stringDataRightTruncation: "string_data_right_truncation", .raiseException: "raise_exception",
            .serializationFailure: "serialization_failure", .deadlockDetected: "deadlock_detected",
            .inFailedTransaction: "in_failed_sql_transaction", .lockNotAvailable: "lock_not_available",
            .queryCanceled: "query_canceled", .adminShutdown: "admin_shutdown",
            .tooManyConnections: "too_many_connections", .invalidPassword: "invalid_password",
            .invalidSQLStatementName: "invalid_sql_statement_name", .featureNotSupported: "feature_not_supported",
        ]

        /// The condition name from the PostgreSQL documentation's appendix of error codes, for
        /// the codes this type names; nil for the others.
        public var conditionName: String? { Self.names[self] }

        public var description: String {
            conditionName.map { "\(rawValue) (\($0))" } ?? rawValue
        }
    }

    public let kind: Kind
    /// The SQLSTATE, for server errors and for statements the library cancelled.
    public let code: Code?
    /// The operation the library was running: `connect`, `query`, `pipeline`, `checkout`, `decode`, ...
    public let operation: String
    /// The library's own explanation; never contains values or row contents.
    public let message: String
    /// Identifiers the server reported with the error (`PG_DIAG_SCHEMA_NAME` and friends).
    public let schemaName: String?
    public let tableName: String?
    public let columnName: String?
    public let dataTypeName: String?
    public let constraintName: String?
    /// The server's primary message, detail and hint. Sensitive: PostgreSQL quotes input values
    /// and keys in them.
    public let serverMessage: String?
    let serverDetail: String?
    let serverHint: String?
    /// The statement text. Sensitive: shown only in ``debugDescription``.
    let sql: String?

    init(
        _ kind: Kind, code: Code? = nil, operation: String, message: String, sql: String? = nil
    ) {
        self.kind = kind
        self.code = code
        self.operation = operation
        self.message = message
        self.sql = sql
        schemaName = nil
        tableName = nil
        columnName = nil
        dataTypeName = nil
        constraintName = nil
        serverMessage = nil
        serverDetail = nil
        serverHint = nil
    }

    /// Reads the fields of a failed result (`PGRES_FATAL_ERROR`).
    init(result: OpaquePointer, operation: String, sql: String?) {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        let sqlState = field(tenancy_pg_diag_sqlstate).map(Code.init(rawValue:))
        kind = .server
        code = sqlState
        self.operation = operation
        self.sql = sql
        schemaName = field(tenancy_pg_diag_schema_name)
        tableName = field(tenancy_pg_diag_table_name)
        columnName = field(tenancy_pg_diag_column_name)
        dataTypeName = field(tenancy_pg_diag_datatype_name)
        constraintName = field(tenancy_pg_diag_constraint_name)
        serverMessage = field(tenancy_pg_diag_message_primary)
        serverDetail = field(tenancy_pg_diag_message_detail)
        serverHint = field(tenancy_pg_diag_message_hint)
        message = Self.advice(for: sqlState, serverMessage: serverMessage)
    }

    /// A next step for the codes where one is clear; the SQLSTATE and identifiers describe the rest.
    ///
    /// The server's primary message is consulted only to tell a row-level security rejection
    /// from a missing grant (both are 42501); it names the table, never a value.
    static func advice(for code: Code?, serverMessage: String? = nil) -> String {
        switch code {
        case .insufficientPrivilege? where serverMessage?.hasPrefix("tenancy binding:") == true:
            return "the C binding check rejected the statement: a tenant transaction cannot use the library's tables or run commands whose effect outlives it; the server's message names which"
        case .insufficientPrivilege? where serverMessage?.contains("row-level security") == true:
            return "row-level security rejected the row: its tenant_id is not the tenant bound to the statement, and a tenant can only write its own rows"
        case .insufficientPrivilege?:
            return "the role lacks a privilege the statement needs; check the grants (the application role gets only what the migrations grant)"
        case .invalidAuthorizationSpecification? where serverMessage?.hasPrefix("tenancy binding:") == true:
            return "the database rejected the tenant binding's tag (a different binding secret, a clock more than a minute off the server's, or a tag that tenant SQL made); the server's message says which"
        case .undefinedTable?, .undefinedColumn?, .undefinedFunction?:
            return "an object the statement names does not exist; check that the migrations ran with the owner role"
        case .serializationFailure?, .deadlockDetected?:
            return "the transaction conflicted with another one; retry it"
        case .inFailedTransaction?:
            return "an earlier statement of this transaction failed; roll back before running more statements"
        case .tooManyConnections?:
            return "the server has no free connection slot; lower the pool sizes or raise max_connections"
        case .adminShutdown?:
            return "the server terminated the connection; the pool replaces it"
        default:
            return "the server rejected the statement; the SQLSTATE says why and debugDescription has the server's message"
        }
    }

    public var description: String {
        var text = "PostgreSQL \(operation) failed (\(kind.rawValue))"
        if let code {
            text += " with SQLSTATE \(code)"
        }
        var objects: [String] = []
        if let tableName {
            objects.append("table " + (schemaName.map { "\($0)." } ?? "") + tableName)
        }
        if let columnName { objects.append("column \(columnName)") }
        if let constraintName { objects.append("constraint \(constraintName)") }
        if let dataTypeName { objects.append("type \(dataTypeName)") }
        if !objects.isEmpty {
            text += " on " + objects.joined(separator: ", ")
        }
        return text + ": " + message
    }

    /// The description plus the server's message, detail and hint and the SQL text. Sensitive:
    /// these may contain argument values and row contents; the library never logs it.
    public var debugDescription: String {
        var text = description
        if let serverMessage { text += " [server message: \(serverMessage)]" }
        if let serverDetail { text += " [detail: \(serverDetail)]" }
        if let serverHint { text += " [hint: \(serverHint)]" }
        if let sql { text += " [sql: \(sql)]" }
        return text
    }
}
