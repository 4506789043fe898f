internal import CSQLite

/// An error reported by SQLite, with its extended result code.
///
/// ``description`` holds the code, the operation and SQLite's message, which names tables,
/// columns and constraints but never the values bound to a statement. The SQL text is only in
/// ``debugDescription``; treat that as sensitive.
public struct SQLiteError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// An SQLite result code (extended where SQLite gives one), matchable in `catch` clauses:
    /// `catch let error as SQLiteError where error.code == .constraintUnique`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The extended result code, as `sqlite3_extended_errcode` returns it.
        public let rawValue: Int32

        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// The primary result code (the low 8 bits), such as `SQLITE_CONSTRAINT` for
        /// `SQLITE_CONSTRAINT_UNIQUE`.
        public var primary: Code { Code(rawValue: rawValue & 0xFF) }

        public static let error = Code(rawValue: SQLITE_ERROR)
        public static let internalError = Code(rawValue: SQLITE_INTERNAL)
        public static let permission = Code(rawValue: SQLITE_PERM)
        public static let abort = Code(rawValue: SQLITE_ABORT)
        public static let busy = Code(rawValue: SQLITE_BUSY)
        public static let locked = Code(rawValue: SQLITE_LOCKED)
        public static let noMemory = Code(rawValue: SQLITE_NOMEM)
        public static let readOnly = Code(rawValue: SQLITE_READONLY)
        public static let interrupt = Code(rawValue: SQLITE_INTERRUPT)
        public static let ioError = Code(rawValue: SQLITE_IOERR)
        public static let corrupt = Code(rawValue: SQLITE_CORRUPT)
        public static let full = Code(rawValue: SQLITE_FULL)
        public static let cantOpen = Code(rawValue: SQLITE_CANTOPEN)
        public static let tooBig = Code(rawValue: SQLITE_TOOBIG)
        public static let constraint = Code(rawValue: SQLITE_CONSTRAINT)
        public static let mismatch = Code(rawValue: SQLITE_MISMATCH)
        public static let misuse = Code(rawValue: SQLITE_MISUSE)
        public static let authorization = Code(rawValue: SQLITE_AUTH)
        public static let range = Code(rawValue: SQLITE_RANGE)
        public static let constraintCheck = Code(rawValue: 275)  // SQLITE_CONSTRAINT_CHECK
        public static let constraintForeignKey = Code(rawValue: 787)  // SQLITE_CONSTRAINT_FOREIGNKEY
        public static let constraintNotNull = Code(rawValue: 1299)  // SQLITE_CONSTRAINT_NOTNULL
        public static let constraintPrimaryKey = Code(rawValue: 1555)  // SQLITE_CONSTRAINT_PRIMARYKEY
        public static let constraintTrigger = Code(rawValue: 1811)  // SQLITE_CONSTRAINT_TRIGGER
        public static let constraintUnique = Code(rawValue: 2067)  // SQLITE_CONSTRAINT_UNIQUE

        /// SQLite's own text for the code, such as `constraint failed`.
        public var description: String {
            String(cString: sqlite3_errstr(rawValue))
        }
    }

    public let code: Code
    /// SQLite's message (`sqlite3_errmsg`), or the library's when the error is its own.
    public let message: String
    /// What the library was doing: `open`, `prepare`, `step`, `bind`, `begin`, `decode`, ...
    public let operation: String
    /// The statement, if any. Sensitive: shown only in ``debugDescription``.
    let sql: String?

    init(code: Code, message: String, operation: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.operation = operation
        self.sql = sql
    }

    /// Reads the last error of a connection.
    init(connection handle: OpaquePointer?, code: Int32, operation: String, sql: String? = nil) {
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? code
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
        self.init(code: Code(rawValue: extended == 0 ? code : extended), message: message, operation: operation, sql: sql)
    }

    public var description: String {
        "SQLite \(operation) failed with code \(code.rawValue) (\(code)): \(message)"
    }

    /// The description plus the SQL text; sensitive, never logged by the library.
    public var debugDescription: String {
        description + (sql.map { " [sql: \($0)]" } ?? "")
    }
}
