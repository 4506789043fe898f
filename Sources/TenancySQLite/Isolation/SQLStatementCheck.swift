import Tenancy

/// The lexer check every tenant statement passes before SQLite prepares it.
///
/// The authorizer alone is not enough: a common table expression named like a protected view
/// (`WITH debates AS (SELECT * FROM "debates$rows") SELECT * FROM debates`) reaches the base
/// table with the view's name as the authorizer's context (observed on SQLite 3.40). So before
/// preparing, this check tokenizes the statement (string literals, quoted and bracketed
/// identifiers, comments) and rejects any statement that names a library object. Names
/// containing `$` are library objects, as are names starting with `tenancy_`.
enum SQLStatementCheck {
    /// A token of SQLite's SQL, as far as the check needs to tell them apart.
    enum Token: Equatable {
        /// A keyword or an unquoted identifier.
        case word(String)
        /// A `"..."`, `[...]` or `` `...` `` identifier, unquoted.
        case quotedIdentifier(String)
        /// A `'...'` string literal, unquoted.
        case string(String)
        /// A parameter: `?`, `?NNN`, `:name`, `@name` or `$name`.
        case parameter(String)
        /// A semicolon.
        case semicolon
        /// Any other character: operators, punctuation, digits.
        case other
    }

    /// Rejects a statement a tenant may not run, before anything is prepared.
    ///
    /// - Parameter allowsFullSQL: true in a tenant's own database, where `RETURNING`, upserts
    ///   and `last_insert_rowid()` work; false on pooled tables behind views.
    /// - Returns: whether the statement reads the state of the connection that last wrote
    ///   (`last_insert_rowid()`, `changes()`, `total_changes()`), so it must run on the writer.
    @discardableResult
    static func check(_ sql: String, allowsFullSQL: Bool) throws -> Bool {
        let tokens = try tokenize(sql)
        var sawStatement = false
        var previousWord: String?
        var readsWriterState = false

        for token in tokens {
            switch token {
            case .semicolon:
                sawStatement = true
                continue
            default:
                if sawStatement {
                    throw IsolationError(.denied, "statement denied: only one statement may run at a time")
                }
            }
            switch token {
            case .word(let word), .quotedIdentifier(let word):
                try checkName(word)
                let upper = word.uppercased()
                if case .word = token {
                    try checkKeyword(upper, previous: previousWord, allowsFullSQL: allowsFullSQL)
                    readsWriterState = readsWriterState || Self.writerStateFunctions.contains(upper)
                    previousWord = upper
                } else {
                    previousWord = nil
                }
            case .string(let text):
                // SQLite accepts a string literal where it expects a table name, so a string
                // naming a library object is rejected as the identifier would be.
                if names(libraryObject: text) {
                    throw IsolationError(.denied, "statement denied: it names the library object '\(text)'")
                }
                previousWord = nil
            case .parameter(let parameter):
                if parameter != "?" {
                    throw IsolationError(
                        .denied, "statement denied: named and numbered parameters (\(parameter)) are not supported; interpolate values, which binds them")
                }
                previousWord = nil
            case .semicolon, .other:
                previousWord = nil
            }
        }
        return readsWriterState
    }

    /// Functions whose result depends on the connection that ran the last write.
    static let writerStateFunctions: Set<String> = ["LAST_INSERT_ROWID", "CHANGES", "TOTAL_CHANGES"]

    private static func checkName(_ name: String) throws {
        if names(libraryObject: name) {
            throw IsolationError(.denied, "statement denied: it names the library object '\(name)'; tenant statements use the protected views")
        }
    }

    /// Whether a name is a base table, a library trigger or a library table.
    static func names(libraryObject name: String) -> Bool {
        name.contains("$") || name.lowercased().hasPrefix("tenancy_")
    }

    private static func checkKeyword(_ word: String, previous: String?, allowsFullSQL: Bool) throws {
        if word == "VACUUM" {
            throw IsolationError(.denied, "statement denied: VACUUM is not allowed in a tenant scope")
        }
        guard !allowsFullSQL else { return }
        if word == "RETURNING" {
            throw IsolationError(
                .unsupportedStatement,
                "RETURNING is not supported on protected tables: behind the view SQLite would return the values as written, before the trigger stamps tenant_id and defaults; generate ids in the application (or with a per-tenant sequence table) and read the row back with SELECT")
        }
        if word == "CONFLICT" && previous == "ON" {
            throw IsolationError(
                .unsupportedStatement,
                "ON CONFLICT (upsert) is not supported on protected tables, because SQLite cannot upsert through a view; use INSERT OR REPLACE, or UPDATE and then INSERT when no row changed")
        }
        if word == "LAST_INSERT_ROWID" {
            throw IsolationError(
                .unsupportedStatement,
                "last_insert_rowid() is not supported on protected tables, because inserts through the view do not update it; generate ids in the application")
        }
    }

    // MARK: - Tokenizer

    /// Splits SQL into tokens, skipping whitespace and comments.
    ///
    /// - Throws: ``IsolationError`` for an unterminated string, identifier or comment.
    static func tokenize(_ sql: String) throws -> [Token] {
        let scalars = Array(sql.unicodeScalars)
        var tokens: [Token] = []
        var index = 0

        func unterminated(_ what: String) -> IsolationError {
            IsolationError(.denied, "statement denied: unterminated \(what)")
        }

        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case " ", "\t", "\n", "\r", "\u{0C}":
                index += 1
            case "-" where index + 1 < scalars.count && scalars[index + 1] == "-":
                while index < scalars.count && scalars[index] != "\n" { index += 1 }
            case "/" where index + 1 < scalars.count && scalars[index + 1] == "*":
                index += 2
                while index + 1 < scalars.count && !(scalars[index] == "*" && scalars[index + 1] == "/") { index += 1 }
                guard index + 1 < scalars.count else { throw unterminated("comment") }
                index += 2
            case "'":
                let (text, next) = try readQuoted(scalars, from: index, closing: "'", doubled: true) ?? { throw unterminated("string literal") }()
                tokens.append(.string(text))
                index = next
            case "\"", "`":
                let (text, next) = try readQuoted(scalars, from: index, closing: scalar, doubled: true) ?? { throw unterminated("quoted identifier") }()
                tokens.append(.quotedIdentifier(text))
                index = next
            case "[":
                let (text, next) = try readQuoted(scalars, from: index, closing: "]", doubled: false) ?? { throw unterminated("bracketed identifier") }()
                tokens.append(.quotedIdentifier(text))
                index = next
            case "?", ":", "@", "$":
                var end = index + 1
                while end < scalars.count && isWordScalar(scalars[end]) { end += 1 }
                if scalar == ":" && end == index + 1 {
                    tokens.append(.other)
                } else {
                    tokens.append(.parameter(String(String.UnicodeScalarView(scalars[index..<end]))))
                }
                index = end
            case ";":
                tokens.append(.semicolon)
                index += 1
            default:
                if isWordStart(scalar) {
                    var end = index + 1
                    while end < scalars.count && isWordScalar(scalars[end]) { end += 1 }
                    tokens.append(.word(String(String.UnicodeScalarView(scalars[index..<end]))))
                    index = end
                } else if isDigit(scalar) {
                    // A number, including forms such as 1e5 and 0x1F, which are not names.
                    var end = index + 1
                    while end < scalars.count && (isWordScalar(scalars[end]) || scalars[end] == ".") { end += 1 }
                    tokens.append(.other)
                    index = end
                } else {
                    tokens.append(.other)
                    index += 1
                }
            }
        }
        return tokens
    }

    /// Reads a quoted token starting at `start`; a doubled closing character stands for one.
    private static func readQuoted(
        _ scalars: [Unicode.Scalar], from start: Int, closing: Unicode.Scalar, doubled: Bool
    ) throws -> (String, Int)? {
        var text = String.UnicodeScalarView()
        var index = start + 1
        while index < scalars.count {
            if scalars[index] == closing {
                if doubled && index + 1 < scalars.count && scalars[index + 1] == closing {
                    text.append(closing)
                    index += 2
                    continue
                }
                return (String(text), index + 1)
            }
            text.append(scalars[index])
            index += 1
        }
        return nil
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar >= "0" && scalar <= "9"
    }

    /// SQLite's identifier characters: letters, `_`, and every non-ASCII character start a
    /// word; digits and `$` may follow.
    private static func isWordStart(_ scalar: Unicode.Scalar) -> Bool {
        (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_" || scalar.value > 0x7F
    }

    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        isWordStart(scalar) || isDigit(scalar) || scalar == "$"
    }
}
