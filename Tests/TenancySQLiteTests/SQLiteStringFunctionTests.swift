import CSQLite
import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

/// The library replaces `instr`, `replace`, `like`, `glob` and the two-argument forms of `trim`,
/// `ltrim` and `rtrim` on its connections with versions that stop at the statement deadline.
/// These tests compare them with SQLite's own functions on a plain connection: every result
/// (type and bytes) and every error message must be identical.
@Suite("SQLite string function replacements")
struct SQLiteStringFunctionTests {
    /// Both connections get this length limit, so `replace` reaches it with small arguments.
    static let lengthLimit: Int32 = 1_000_000

    static let instrCases = [
        "instr('abc', 'b')", "instr('abc', 'c')", "instr('abc', 'd')", "instr('abcabc', 'cab')", "instr('aaa', 'aaaa')",
        "instr('abc', '')", "instr('', '')", "instr('', 'a')", "instr(NULL, 'a')", "instr('a', NULL)", "instr(NULL, NULL)",
        "instr(NULL, '')", "instr('', NULL)",
        "instr('héllo wörld', 'w')", "instr('héllo', 'llo')", "instr('😀x😀y', 'y')", "instr('ééé', 'é')", "instr('aé', 'é')",
        "instr(x'00616200', x'62')", "instr(x'c3a9c3a9', x'a9')", "instr(x'', x'')", "instr(x'', x'61')", "instr(x'61', x'')",
        "instr(x'616263', 'b')", "instr('abc', x'63')", "instr(x'', 'a')", "instr('a', x'')", "instr(x'', '')",
        "instr(x'e282ac', '€')", "instr('x€', x'e282ac')", "instr(x'c3a961', 'a')", "instr(x'61', 1)", "instr(12, x'32')",
        "instr(12345, 34)", "instr(100, 0)", "instr(1.5, '.')", "instr(1e100, 'e')", "instr(-0.0, '0')", "instr(12345, 6)",
        "instr('a' || char(0) || 'b', 'b')", "instr('a' || char(0) || 'b', char(0))", "instr(char(0), char(0))",
        "instr(CAST(x'c3a9c3a9' AS TEXT), CAST(x'a9' AS TEXT))", "instr(CAST(x'80' AS TEXT) || 'a', 'a')",
        "instr(CAST(x'8080' AS TEXT) || 'a', 'a')", "instr(CAST(x'ff' AS TEXT) || 'a', 'a')", "instr(CAST(x'c3' AS TEXT), 'a')",
    ]

    static let replaceCases = [
        "replace('abcabc', 'b', 'X')", "replace('aaaa', 'aa', 'b')", "replace('aaa', 'aa', 'b')", "replace('aaa', 'a', '')",
        "replace('abc', 'abc', '')", "replace('abc', 'abcd', 'x')", "replace('', 'a', 'b')", "replace('abc', 'c', 'cc')",
        "replace('abc', '', 'X')", "replace(123, '', 'x')", "replace(1.5, '', 'x')", "replace(x'616263', '', 'x')",
        "replace(x'', '', 'x')", "replace(x'616263', 'b', 'x')", "replace(x'', 'a', 'b')", "replace('abc', x'62', x'7a')",
        "replace(NULL, 'a', 'b')", "replace('a', NULL, 'b')", "replace('a', 'a', NULL)", "replace('abc', '', NULL)",
        "replace(NULL, '', NULL)", "replace('abc', 'z', NULL)", "replace(NULL, NULL, NULL)",
        "replace('abc', char(0), 'x')", "replace('a' || char(0) || 'b', char(0) || 'b', 'x')",
        "replace('a' || char(0) || 'b', 'b', 'x')", "replace('a' || char(0) || 'b', 'a', char(0))",
        "replace('héllo', 'é', 'e')", "replace('héllo', CAST(x'a9' AS TEXT), '')", "replace('héllo', x'a9', '')",
        "replace(12.5, '.', ',')", "replace(1000, 0, 1)", "replace(-5, '-', '+')", "replace('😀😀', '😀', 'ab')",
        "replace('ABC', 'b', 'x')",
        "replace(printf('%.*c', 600000, 'a'), 'a', 'aa')",
        "length(replace(printf('%.*c', 500000, 'a'), 'a', 'aa'))",
        "length(replace(printf('%.*c', 500001, 'a'), 'a', 'aa'))",
        "length(replace(printf('%.*c', 900000, 'a'), 'aa', 'b'))",
    ]

    static let likeCases = [
        "'abc' LIKE 'abc'", "'ABC' LIKE 'abc'", "'abc' LIKE 'A%'", "'abc' LIKE '%C'", "'abc' LIKE '_b_'", "'abc' LIKE '__'",
        "'ab' LIKE '%%_%%'", "'' LIKE ''", "'' LIKE '%'", "'' LIKE '_'", "'a' LIKE ''", "'ab' LIKE 'a'",
        "NULL LIKE 'a'", "'a' LIKE NULL", "NULL LIKE NULL", "'a' NOT LIKE 'A'",
        "'É' LIKE 'é'", "'é' LIKE 'é'", "'é' LIKE '_'", "'aé' LIKE '%é'", "'aÉb' LIKE '%é%'", "'Straße' LIKE '%STRASSE%'",
        "'[' LIKE '['", "'a' LIKE '[a]'", "'Z' LIKE 'z'", "'@' LIKE '`'", "'[' LIKE '{'", "'^' LIKE '~'",
        "'hello world' LIKE '%lo w%'", "'hello' LIKE '%%'", "'hello' LIKE '%_%_%'", "'ab' LIKE '%_%_%_%'",
        "'abcabc' LIKE '%b%c'", "'abcabd' LIKE '%b%c'", "'aXbXc' LIKE '%x%X%'", "'mississippi' LIKE '%iss%ipp%'",
        "'a%b' LIKE 'a!%b' ESCAPE '!'", "'axb' LIKE 'a!%b' ESCAPE '!'", "'a_b' LIKE 'a!_b' ESCAPE '!'",
        "'axb' LIKE 'a!_b' ESCAPE '!'", "'a!b' LIKE 'a!!b' ESCAPE '!'", "'ab' LIKE 'ab!' ESCAPE '!'", "'ab!' LIKE 'ab!' ESCAPE '!'",
        "'abc' LIKE '%!' ESCAPE '!'", "'a%' LIKE '%!%' ESCAPE '!'", "'ab' LIKE '%!%' ESCAPE '!'", "'xA' LIKE '%!a' ESCAPE '!'",
        "'ac' LIKE 'a%c' ESCAPE '%'", "'abc' LIKE 'a%c' ESCAPE '%'", "'a%' LIKE 'a%%' ESCAPE '%'", "'a_c' LIKE 'a__c' ESCAPE '_'",
        "'abc' LIKE 'a__c' ESCAPE '_'", "'abc' LIKE '%_c' ESCAPE '_'", "'x_c' LIKE '%_c' ESCAPE '_'", "'abc' LIKE 'abc' ESCAPE 'a'",
        "'bc' LIKE 'abc' ESCAPE 'a'", "'aé%' LIKE 'aé%' ESCAPE 'é'", "'a%' LIKE 'aé%' ESCAPE 'é'",
        "'abc' LIKE 'abc' ESCAPE ''", "'abc' LIKE 'abc' ESCAPE 'ab'", "'abc' LIKE 'abc' ESCAPE NULL", "NULL LIKE 'a' ESCAPE 'ab'",
        "'abc' LIKE 'abc' ESCAPE char(0)", "'abc' LIKE 'abc' ESCAPE 'a' || char(0) || 'b'", "'abc' LIKE 'abc' ESCAPE '😀'",
        "'abc' LIKE 'abc' ESCAPE CAST(x'c3a9a9' AS TEXT)", "'abc' LIKE 'abc' ESCAPE CAST(x'a9a9' AS TEXT)",
        "'abc' LIKE 'abc' ESCAPE 1", "'a1' LIKE 'a11' ESCAPE 1", "'abc' LIKE 'abc' ESCAPE x'21'",
        "x'61' LIKE 'a'", "'a' LIKE x'61'", "NULL LIKE x'61'", "x'61' LIKE NULL", "like(x'61', 'a', NULL)", "like('a', x'61', 'ab')",
        "like('a%', 'abc')", "like('a%', 'abc', '!')", "like('A_C', 'abc')",
        "123 LIKE '1%'", "1.5 LIKE '1._'", "12 LIKE 12", "'a' || char(0) || 'b' LIKE 'a'", "'a' LIKE 'a' || char(0) || 'b'",
        "CAST(x'c3' AS TEXT) LIKE '_'", "CAST(x'ff' AS TEXT) LIKE '_'", "CAST(x'80' AS TEXT) LIKE '%'", "CAST(x'8080' AS TEXT) LIKE '__'",
        "CAST(x'c080' AS TEXT) LIKE CAST(x'efbfbd' AS TEXT)", "CAST(x'c1a1' AS TEXT) LIKE 'a'", "CAST(x'c1a1' AS TEXT) LIKE CAST(x'efbfbd' AS TEXT)",
        "CAST(x'c280' AS TEXT) LIKE CAST(x'c280' AS TEXT)", "CAST(x'f880808080' AS TEXT) LIKE '_'", "CAST(x'fe8080' AS TEXT) LIKE CAST(x'fe8080' AS TEXT)", "CAST(x'eda080' AS TEXT) LIKE '_'", "CAST(x'eda080' AS TEXT) LIKE CAST(x'efbfbd' AS TEXT)",
        "CAST(x'efbfbe' AS TEXT) LIKE CAST(x'efbfbd' AS TEXT)", "CAST(x'e0a080' AS TEXT) LIKE CAST(x'e0a080' AS TEXT)",
        "CAST(x'c3a9a9' AS TEXT) LIKE 'é'", "CAST(x'c3a9a9' AS TEXT) LIKE '%' || CAST(x'c3a9a9' AS TEXT)",
        "'a' LIKE printf('%.*c', 50001, 'a')", "'a' LIKE printf('%.*c', 50000, 'a')", "printf('%.*c', 50000, 'a') LIKE printf('%.*c', 50000, 'a')",
        "like(printf('%.*c', 50001, '%'), 'a', NULL)", "x'61' LIKE printf('%.*c', 50001, 'a')", "printf('%.*c', 60000, 'a') LIKE '%a'",
    ]

    static let globCases = [
        "'abc' GLOB 'a*'", "'ABC' GLOB 'a*'", "'abc' GLOB '?b?'", "'abc' GLOB '??'", "'abc' GLOB '[abc]bc'", "'[' GLOB '[[]'",
        "']' GLOB '[]]'", "'a' GLOB '[^a]'", "'b' GLOB '[^a]'", "'-' GLOB '[a-]'", "'a' GLOB '[a-]'", "'b' GLOB '[a-c]'",
        "'d' GLOB '[a-c]'", "'-' GLOB '[-a]'", "'é' GLOB '[à-ê]'", "'ë' GLOB '[à-ê]'", "'a' GLOB '['", "'a' GLOB '[a'",
        "'a' GLOB '[^'", "'a' GLOB '[^]'", "'a' GLOB '[]'", "']' GLOB '[]-a]'", "'b' GLOB '[]-a]'", "'-' GLOB '[]-a]'",
        "'x' GLOB '[z-a]'", "'a*b' GLOB 'a[*]b'", "'axb' GLOB 'a[*]b'", "'a' GLOB '[^]a]'", "']' GLOB '[^]]'", "'b' GLOB '[a-a-c]'",
        "'-' GLOB '[a-a-c]'", "'c' GLOB '[a-a-c]'", "'😀' GLOB '[😀]'", "'😀' GLOB '?'", "'😀' GLOB '[^a]'",
        "'ab' GLOB '*[b]'", "'ab' GLOB '*[c]'", "'abc' GLOB '*[a-c]*[a-c]*[a-c]*'", "'ab' GLOB '*[a-c]*[a-c]*[a-c]*'",
        "'xaxb' GLOB '*[a]b'", "'xaxb' GLOB '*[a]x*'", "'abc' GLOB '*[b'", "'ab' GLOB '*[^a]'",
        "'' GLOB '*'", "'' GLOB '?'", "'' GLOB ''", "'abc' GLOB '*?'", "'abc' GLOB '*??*'", "'abc' GLOB '*????*'", "'abc' GLOB '**c'",
        "NULL GLOB '*'", "'a' GLOB NULL", "x'61' GLOB 'a'", "'a' GLOB x'61'", "glob('a', 'a')", "glob('*', 'anything')",
        "'%' GLOB '%'", "'a_' GLOB 'a_'", "'ab' GLOB 'a_'", "12 GLOB '1?'", "2.5 GLOB '*.*'", "'a' || char(0) || 'b' GLOB 'a'",
        "CAST(x'ff' AS TEXT) GLOB '?'", "CAST(x'ff' AS TEXT) GLOB '[' || CAST(x'efbfbd' AS TEXT) || ']'",
        "'a' GLOB printf('%.*c', 50001, '*')", "'a' GLOB printf('%.*c', 50000, '*')",
    ]

    /// The one-argument forms stay SQLite's own, and the cases check that they still resolve.
    static let trimCases = [
        "trim('  abc  ')", "ltrim('  abc  ')", "rtrim('  abc  ')", "trim(' \t a ')", "trim(NULL)", "ltrim(12)", "rtrim(x'2061')",
        "trim('xxabcxx', 'x')", "ltrim('xxabcxx', 'x')", "rtrim('xxabcxx', 'x')", "trim('abcba', 'ab')", "trim('abc', 'abc')",
        "trim('aaa', 'aa')", "ltrim('abab', 'ba')", "rtrim('xyzzy', 'yz')", "trim('  a  ', ' ')", "trim('abc', 'z')",
        "trim('abc', '')", "ltrim('abc', '')", "rtrim('abc', '')", "trim('', 'a')", "trim('', '')",
        "trim(NULL, 'a')", "trim('a', NULL)", "trim(NULL, NULL)", "trim(NULL, '')", "trim('', NULL)", "ltrim(NULL, 'a')",
        "ltrim('a', NULL)", "rtrim(NULL, 'a')", "rtrim('a', NULL)",
        "trim(12321, '1')", "trim(12321, 1)", "rtrim(100, 0)", "ltrim(-5, '-')", "trim(1.5, '1')", "trim(1.5, '15')",
        "trim(1e100, '1')", "trim(-0.0, '-')", "trim(12, '')", "trim(12, x'31')", "trim('a1a', 1)", "trim('a1.5', 1.5)",
        "trim(x'616263', 'a')", "trim(x'616263', x'61')", "ltrim(x'616263', x'6263')", "rtrim(x'616263', x'6263')",
        "trim(x'', 'a')", "trim(x'', x'')", "trim('abc', x'')", "trim(x'', '')", "trim(x'00610062', x'00')",
        "rtrim(x'6100', 'a')", "trim(x'c3a9c3a9', x'a9')", "trim(x'a9c3', x'c3a9')", "trim(x'c3a9', x'c3')",
        "trim('ééaéé', 'é')", "trim('éaé', 'e')", "ltrim('😀a😀', '😀')", "rtrim('😀a😀', '😀')", "trim('aéb', 'ab')",
        "rtrim('aé', CAST(x'a9' AS TEXT))", "ltrim('é', CAST(x'c3' AS TEXT))", "trim('é', x'c3a9')", "trim('é', x'a9c3')",
        "ltrim('é', CAST(x'c3' AS TEXT) || 'é')", "ltrim('é', 'é' || CAST(x'c3' AS TEXT))",
        "rtrim('é', CAST(x'a9' AS TEXT) || 'é')", "rtrim('é', 'é' || CAST(x'a9' AS TEXT))",
        "trim(CAST(x'c3a9a9' AS TEXT), 'é')", "trim(CAST(x'c3a9a9' AS TEXT), CAST(x'c3a9a9' AS TEXT))",
        "trim(CAST(x'a9a9c3' AS TEXT), CAST(x'a9' AS TEXT))", "trim(CAST(x'ff80' AS TEXT), CAST(x'ff' AS TEXT))",
        "trim('a' || char(0) || 'a', 'a')", "trim('abc', 'c' || char(0) || 'a')", "trim(char(0) || 'a', char(0))",
        "trim(char(0) || 'a' || char(0), 'a')", "ltrim('a' || char(0), 'a')",
        "length(trim(printf('%.*c', 100000, 'a'), 'a'))", "length(ltrim(printf('%.*c', 100000, 'a') || 'b', 'a'))",
        "length(trim(printf('%.*c', 1000, 'a'), printf('%.*c', 1000, 'b') || 'a'))",
        "trim('', printf('%.*c', 83333, 'a'))", "trim('', printf('%.*c', 83334, 'a'))", "ltrim('a', printf('%.*c', 83334, 'a'))",
        "rtrim(x'', printf('%.*c', 83334, 'a'))", "trim(NULL, printf('%.*c', 83334, 'a'))", "trim('a', printf('%.*c', 83334, 'a') || NULL)",
        "trim('x', replace(printf('%.*c', 83333, 'a'), 'a', 'é'))", "trim('x', replace(printf('%.*c', 83334, 'a'), 'a', 'é'))",
        "trim('x', char(0) || printf('%.*c', 83334, 'a'))",
    ]

    @Test("built-ins replaced on library connections")
    func functionsReplaced() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let connection = try SQLiteConnection(path: directory.path("functions.sqlite"))

        // The function list shows each application-defined function next to the built-in it
        // overrides, with the flags that matter for schema use (deterministic, innocuous).
        let rows = try await connection.query("""
            SELECT name || '/' || narg || '/' || flags AS entry FROM pragma_function_list
            WHERE builtin = 0 AND name IN ('instr', 'replace', 'like', 'glob', 'trim', 'ltrim', 'rtrim') ORDER BY name, narg
            """)

        let flags = SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS
        #expect(try rows.map { try $0.text("entry") } == [
            "glob/2/\(flags)", "instr/2/\(flags)", "like/2/\(flags)", "like/3/\(flags)", "ltrim/2/\(flags)", "replace/3/\(flags)",
            "rtrim/2/\(flags)", "trim/2/\(flags)",
        ])
    }

    @Test("replacements match SQLite's built-ins", arguments: [
        ("instr", instrCases), ("replace", replaceCases), ("like", likeCases), ("glob", globCases), ("trim", trimCases),
    ])
    func matchBuiltIns(function: String, expressions: [String]) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let library = try SQLiteConnection(path: directory.path("functions.sqlite"), lengthLimit: Self.lengthLimit)
        let plain = try PlainSQLiteConnection(lengthLimit: Self.lengthLimit)
        let runner = TenantStatementRunner(tenantID: "tenant-a", mode: .siloTenant, timeLimit: .seconds(60))

        for expression in expressions {
            let sql = Self.describingQuery(expression)
            let expected = plain.evaluate(sql)
            let platformResult = await library.withConnection { connection in
                Self.evaluate { try connection.query(sql) }
            }
            let tenantResult = await library.withConnection { connection in
                Self.evaluate { try runner.query(SQLiteQuery(unsafeSQL: sql), connection: connection) }
            }
            #expect(platformResult == expected, "platform mode: \(expression)")
            // In a tenant statement the library reports SQLITE_TOOBIG as its own error.
            let expectedInTenantMode = expected == "error: string or blob too big" ? "isolation error: lengthLimitExceeded" : expected
            #expect(tenantResult == expectedInTenantMode, "tenant mode: \(expression)")
        }
    }

    /// SQLite turns prefix LIKE and GLOB into an index range only for its own functions, so
    /// the replacements lose that optimization. An explicit range still uses the index.
    @Test("prefix LIKE and GLOB scan the index")
    func prefixPatternsScanIndex() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let library = try SQLiteConnection(path: directory.path("functions.sqlite"))
        let plain = try PlainSQLiteConnection(lengthLimit: SQLiteConnection.defaultLengthLimit)
        let schema = """
            CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, code TEXT);
            CREATE INDEX t_name ON t (name);
            CREATE INDEX t_code ON t (code);
            """
        try await library.executeScript(schema)
        try plain.executeScript(schema)
        let like = "EXPLAIN QUERY PLAN SELECT id FROM t WHERE name LIKE 'abc%'"
        let glob = "EXPLAIN QUERY PLAN SELECT id FROM t WHERE code GLOB 'abc*'"
        let range = "EXPLAIN QUERY PLAN SELECT id FROM t WHERE name >= 'abc' AND name < 'abd'"

        func libraryPlan(_ sql: String) async throws -> String {
            try await library.query(sql).map { try $0.text("detail") }.joined(separator: "\n")
        }

        #expect(try await libraryPlan(like) == "SCAN t USING COVERING INDEX t_name")
        #expect(plain.plan(like) == "SEARCH t USING COVERING INDEX t_name (name>? AND name<?)")
        #expect(try await libraryPlan(glob) == "SCAN t USING COVERING INDEX t_code")
        #expect(plain.plan(glob) == "SEARCH t USING COVERING INDEX t_code (code>? AND code<?)")
        #expect(try await libraryPlan(range) == "SEARCH t USING COVERING INDEX t_name (name>? AND name<?)")
    }

    @Test("random patterns match SQLite's built-ins")
    func randomPatternsMatchBuiltIns() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let library = try SQLiteConnection(path: directory.path("functions.sqlite"))
        let plain = try PlainSQLiteConnection(lengthLimit: SQLiteConnection.defaultLengthLimit)
        let patternAlphabet = ["a", "b", "A", "é", "É", "%", "_", "*", "?", "[", "]", "^", "-", "!", "'", "😀"]
        let stringAlphabet = ["a", "b", "A", "B", "é", "É", "%", "_", "*", "?", "[", "]", "-", "!", "'", "😀"]
        let escapes = ["!", "%", "_", "a", "é", "["]
        var generator = SplitMix64(seed: 0x7E4A_4C1E)

        var queries: [(pattern: String, string: String, sql: String)] = []
        for _ in 0..<3_000 {
            let pattern = Self.randomText(from: patternAlphabet, maxLength: 7, &generator)
            let string = Self.randomText(from: stringAlphabet, maxLength: 9, &generator)
            let escape = escapes[Int(generator.next() % UInt64(escapes.count))]
            let p = Self.literal(pattern), s = Self.literal(string), e = Self.literal(escape)
            let columns = [
                "like(\(p), \(s))", "like(\(p), \(s), \(e))", "glob(\(p), \(s))", "instr(\(s), \(p))", "replace(\(s), \(p), '<>')",
                "trim(\(s), \(p))", "ltrim(\(s), \(p))", "rtrim(\(s), \(p))",
            ]
            let sql = "SELECT " + columns.map { "typeof(\($0)) || ':' || hex(\($0))" }.joined(separator: " || ' ' || ") + " AS result"
            queries.append((pattern, string, sql))
        }

        let sqls = queries.map(\.sql)
        let libraryResults = await library.withConnection { connection in
            sqls.map { sql in Self.evaluate { try connection.query(sql) } }
        }
        var mismatches = 0
        for (query, libraryResult) in zip(queries, libraryResults) {
            let expected = plain.evaluate(query.sql)
            if libraryResult != expected { mismatches += 1 }
            #expect(libraryResult == expected, "pattern \(query.pattern), string \(query.string)")
            if mismatches >= 20 { break }
        }
    }

    /// Trims random strings built from whole characters, lone UTF-8 lead and continuation
    /// bytes and NUL characters, passed as text, blobs or numbers.
    @Test("random trims match SQLite's built-ins")
    func randomTrimsMatchBuiltIns() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let library = try SQLiteConnection(path: directory.path("functions.sqlite"))
        let plain = try PlainSQLiteConnection(lengthLimit: SQLiteConnection.defaultLengthLimit)
        // Each piece is the hexadecimal UTF-8 of one or more bytes.
        let pieces = ["61", "62", "20", "31", "2e", "00", "c3a9", "c3", "a9", "e282ac", "e282", "82ac", "f09f9880", "80", "ff"]
        var generator = SplitMix64(seed: 0x7213_0A11)

        var queries: [(string: String, characters: String, sql: String)] = []
        for _ in 0..<3_000 {
            let string = Self.randomArgument(from: pieces, maxLength: 8, &generator)
            let characters = Self.randomArgument(from: pieces, maxLength: 4, &generator)
            let columns = ["trim(\(string), \(characters))", "ltrim(\(string), \(characters))", "rtrim(\(string), \(characters))"]
            let sql = "SELECT " + columns.map { "typeof(\($0)) || ':' || hex(\($0))" }.joined(separator: " || ' ' || ") + " AS result"
            queries.append((string, characters, sql))
        }

        let sqls = queries.map(\.sql)
        let libraryResults = await library.withConnection { connection in
            sqls.map { sql in Self.evaluate { try connection.query(sql) } }
        }
        var mismatches = 0
        for (query, libraryResult) in zip(queries, libraryResults) {
            let expected = plain.evaluate(query.sql)
            if libraryResult != expected { mismatches += 1 }
            #expect(libraryResult == expected, "string \(query.string), characters \(query.characters)")
            if mismatches >= 20 { break }
        }
    }

    /// Builds an SQL expression from random pieces: usually text, sometimes a blob, and
    /// sometimes the number that SQLite's `CAST(... AS NUMERIC)` makes of the text.
    static func randomArgument(from pieces: [String], maxLength: Int, _ generator: inout SplitMix64) -> String {
        let length = Int(generator.next() % UInt64(maxLength + 1))
        let hex = (0..<length).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
        switch generator.next() % 8 {
        case 0:
            return "x'\(hex)'"
        case 1:
            return "CAST(CAST(x'\(hex)' AS TEXT) AS NUMERIC)"
        default:
            return "CAST(x'\(hex)' AS TEXT)"
        }
    }

    /// Builds a query that returns the expression's type and bytes as one text column, so
    /// results are compared exactly, embedded NULs and invalid UTF-8 included.
    static func describingQuery(_ expression: String) -> String {
        "SELECT typeof(value) || ':' || hex(value) AS result FROM (SELECT \(expression) AS value)"
    }

    /// Runs a query returning one text column, as its rows, `error: <SQLite's message>` or
    /// `isolation error: <code>`.
    static func evaluate(_ body: () throws -> [SQLiteRow]) -> String {
        do {
            let rows = try body()
            return try rows.map { try $0.text("result") }.joined(separator: "\n")
        } catch let error as SQLiteError {
            return "error: \(error.message)"
        } catch let error as IsolationError {
            return "isolation error: \(error.code)"
        } catch {
            return "error: \(error)"
        }
    }

    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    static func randomText(from alphabet: [String], maxLength: Int, _ generator: inout SplitMix64) -> String {
        let length = Int(generator.next() % UInt64(maxLength + 1))
        return (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }.joined()
    }
}

/// A small seeded generator, so a failing random case can be replayed.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// An in-memory connection opened straight through CSQLite, with SQLite's own string
/// functions and none of the library's set-up.
final class PlainSQLiteConnection {
    private let handle: OpaquePointer

    init(lengthLimit: Int32) throws {
        var opened: OpaquePointer?
        guard sqlite3_open_v2(":memory:", &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK, let opened else {
            sqlite3_close_v2(opened)
            throw SQLiteError(code: .cantOpen, message: "could not open an in-memory database", operation: "open")
        }
        handle = opened
        sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, lengthLimit)
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    func executeScript(_ sql: String) throws {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw SQLiteError(connection: handle, code: code, operation: "execute script") }
    }

    /// Returns the `detail` column of an `EXPLAIN QUERY PLAN` statement, one line per row.
    func plan(_ sql: String) -> String {
        var statement: OpaquePointer?
        defer { sqlite3_finalize(statement) }
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            return "error: \(String(cString: sqlite3_errmsg(handle)))"
        }
        var lines: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            lines.append(String(cString: sqlite3_column_text(statement, 3)))
        }
        return lines.joined(separator: "\n")
    }

    /// Runs a query returning one text column, as ``SQLiteStringFunctionTests/evaluate(_:)``
    /// reports it.
    func evaluate(_ sql: String) -> String {
        var statement: OpaquePointer?
        defer { sqlite3_finalize(statement) }
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            return "error: \(String(cString: sqlite3_errmsg(handle)))"
        }
        var rows: [String] = []
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW:
                rows.append(sqlite3_column_text(statement, 0).map { String(cString: $0) } ?? "NULL")
            case SQLITE_DONE:
                return rows.joined(separator: "\n")
            default:
                return "error: \(String(cString: sqlite3_errmsg(handle)))"
            }
        }
    }
}
