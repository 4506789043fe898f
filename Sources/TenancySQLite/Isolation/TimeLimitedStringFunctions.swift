internal import CSQLite
#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif

/// Replacements for SQLite's `instr`, `replace`, `like`, `glob` and the two-argument forms of
/// `trim`, `ltrim` and `rtrim` that stop at the statement deadline.
///
/// SQLite calls the progress handler only between virtual machine instructions, and one call of
/// these built-ins is one instruction whose cost is the product of its argument lengths. The
/// replacements return the same results as SQLite 3.40's built-ins (the library's tests compare
/// them with a plain connection), and they read the clock every few thousand comparisons. Once
/// the deadline of the bound tenant statement has passed, the call fails with
/// `SQLITE_INTERRUPT`, exactly as the progress handler would end the statement. With no deadline
/// set (the platform mode) a call always runs to the end.
///
/// `LIKE` is case-insensitive for ASCII letters only, as SQLite's default is without ICU.
/// NOTE: `PRAGMA case_sensitive_like` puts SQLite's own `like` back on the connection. With a
/// SQLite built with ICU, whose `like` folds more than ASCII, the replacement's results differ.
enum TimeLimitedStringFunctions {
    /// Registers the replacements on a connection, with the guard as user data.
    static func register(on handle: OpaquePointer, userData: UnsafeMutableRawPointer) throws {
        // SQLite flags its own versions of these functions innocuous, so views and triggers may
        // call them with trusted_schema=OFF; the replacements keep that.
        let flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS
        let functions: [(name: String, argumentCount: Int32, body: SQLFunction)] = [
            ("instr", 2, instrFunction),
            ("replace", 3, replaceFunction),
            ("like", 2, likeFunction),
            ("like", 3, likeFunction),
            ("glob", 2, globFunction),
            // A registration with two arguments leaves SQLite's linear one-argument forms in
            // place, because SQLite falls back to a built-in when no application-defined
            // function takes the call's number of arguments.
            ("trim", 2, trimBothFunction),
            ("ltrim", 2, trimLeadingFunction),
            ("rtrim", 2, trimTrailingFunction),
        ]
        for function in functions {
            let code = sqlite3_create_function_v2(handle, function.name, function.argumentCount, flags, userData, function.body, nil, nil, nil)
            guard code == SQLITE_OK else {
                throw SQLiteError(connection: handle, code: code, operation: "register \(function.name)() with \(function.argumentCount) arguments")
            }
        }
    }

    /// Whether SQLite was built with `SQLITE_LIKE_DOESNT_MATCH_BLOBS` (Debian's build is): then
    /// `LIKE` and `GLOB` return 0 when the pattern or the string is a blob.
    static let likeIgnoresBlobs = sqlite3_compileoption_used("LIKE_DOESNT_MATCH_BLOBS") != 0
}

typealias SQLFunction = @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void

/// Counts the work of one function call and reads the clock every ``interval`` units (one unit
/// is about one byte or character compared). It throws once the deadline of the statement bound
/// to the connection has passed; without a deadline it never reads the clock.
struct StatementDeadlineCheck {
    /// Thrown when the statement's deadline has passed.
    struct Passed: Error {}

    static let interval = 4_096

    private let connectionGuard: ConnectionGuard?
    private var remaining = interval

    /// Reads the guard that the function was registered with.
    init(_ context: OpaquePointer) {
        connectionGuard = sqlite3_user_data(context).map { Unmanaged<ConnectionGuard>.fromOpaque($0).takeUnretainedValue() }
    }

    @inline(__always)
    mutating func spend(_ units: Int = 1) throws(Passed) {
        remaining -= units
        if remaining > 0 { return }
        remaining = Self.interval
        if connectionGuard?.deadlinePassed == true { throw Passed() }
    }
}

// MARK: - instr

private let instrFunction: SQLFunction = { context, _, arguments in
    guard let context, let arguments, let haystack = arguments[0], let needle = arguments[1] else { return }
    var check = StatementDeadlineCheck(context)
    do {
        try instr(context, haystack, needle, &check)
    } catch {
        sqlite3_result_error_code(context, SQLITE_INTERRUPT)
    }
}

/// `instr(X, Y)`: the 1-based position of the first Y in X, or 0. Two blobs are searched byte
/// by byte. Otherwise both are read as text, and the position counts characters, where a
/// character starts at every byte that is not a UTF-8 continuation byte. The result is NULL
/// when either argument is NULL, and 1 when Y is empty.
private func instr(
    _ context: OpaquePointer, _ haystackValue: OpaquePointer, _ needleValue: OpaquePointer, _ check: inout StatementDeadlineCheck
) throws(StatementDeadlineCheck.Passed) {
    let haystackType = sqlite3_value_type(haystackValue)
    let needleType = sqlite3_value_type(needleValue)
    if haystackType == SQLITE_NULL || needleType == SQLITE_NULL { return }
    var haystackCount = Int(sqlite3_value_bytes(haystackValue))
    var needleCount = Int(sqlite3_value_bytes(needleValue))
    guard needleCount > 0 else {
        sqlite3_result_int(context, 1)
        return
    }

    var haystack: UnsafePointer<UInt8>?
    var needle: UnsafePointer<UInt8>?
    var countsCharacters = true
    var copies: [OpaquePointer] = []
    defer { copies.forEach { sqlite3_value_free($0) } }
    if haystackType == SQLITE_BLOB && needleType == SQLITE_BLOB {
        haystack = sqlite3_value_blob(haystackValue)?.assumingMemoryBound(to: UInt8.self)
        needle = sqlite3_value_blob(needleValue)?.assumingMemoryBound(to: UInt8.self)
        countsCharacters = false
    } else if haystackType != SQLITE_BLOB && needleType != SQLITE_BLOB {
        haystack = sqlite3_value_text(haystackValue)
        needle = sqlite3_value_text(needleValue)
    } else {
        // A blob and a value of another type are compared as text. Converting copies leaves the
        // arguments themselves as they were, as SQLite's instr() does.
        guard let haystackCopy = sqlite3_value_dup(haystackValue), let needleCopy = sqlite3_value_dup(needleValue) else {
            sqlite3_result_error_nomem(context)
            return
        }
        copies = [haystackCopy, needleCopy]
        haystack = sqlite3_value_text(haystackCopy)
        haystackCount = Int(sqlite3_value_bytes(haystackCopy))
        needle = sqlite3_value_text(needleCopy)
        needleCount = Int(sqlite3_value_bytes(needleCopy))
    }
    guard let needle, haystackCount == 0 || haystack != nil else {
        sqlite3_result_error_nomem(context)
        return
    }
    guard let haystack, needleCount <= haystackCount else {
        sqlite3_result_int(context, 0)
        return
    }

    let firstByte = needle[0]
    var offset = 0
    var position: Int32 = 1
    while needleCount <= haystackCount - offset {
        try check.spend()
        if haystack[offset] == firstByte {
            try check.spend(needleCount)
            if memcmp(haystack + offset, needle, needleCount) == 0 {
                sqlite3_result_int(context, position)
                return
            }
        }
        position += 1
        offset += 1
        while countsCharacters && offset < haystackCount && haystack[offset] & 0xC0 == 0x80 {
            offset += 1
        }
    }
    sqlite3_result_int(context, 0)
}

// MARK: - replace

private let replaceFunction: SQLFunction = { context, _, arguments in
    guard let context, let arguments, let source = arguments[0], let pattern = arguments[1], let replacement = arguments[2] else { return }
    var check = StatementDeadlineCheck(context)
    do {
        try replace(context, source, pattern, replacement, &check)
    } catch {
        sqlite3_result_error_code(context, SQLITE_INTERRUPT)
    }
}

/// `replace(X, Y, Z)`: X as text with every non-overlapping Y, left to right, replaced by Z,
/// comparing UTF-8 bytes. NULL when any argument is NULL, except that an empty Y returns X
/// unchanged (with its type) before Z is looked at.
private func replace(
    _ context: OpaquePointer, _ sourceValue: OpaquePointer, _ patternValue: OpaquePointer, _ replacementValue: OpaquePointer,
    _ check: inout StatementDeadlineCheck
) throws(StatementDeadlineCheck.Passed) {
    guard let source = sqlite3_value_text(sourceValue) else { return }
    let sourceCount = Int(sqlite3_value_bytes(sourceValue))
    guard let pattern = sqlite3_value_text(patternValue) else { return }
    // SQLite tests the first byte, so a Y that starts with a NUL character counts as empty.
    if pattern[0] == 0 {
        sqlite3_result_value(context, sourceValue)
        return
    }
    let patternCount = Int(sqlite3_value_bytes(patternValue))
    guard let replacement = sqlite3_value_text(replacementValue) else { return }
    let replacementCount = Int(sqlite3_value_bytes(replacementValue))

    let lengthLimit = Int(sqlite3_limit(sqlite3_context_db_handle(context), SQLITE_LIMIT_LENGTH, -1))
    var output: [UInt8] = []
    output.reserveCapacity(sourceCount)
    var outputCount = sourceCount
    var copiedUpTo = 0
    var offset = 0
    let firstByte = pattern[0]
    while offset <= sourceCount - patternCount {
        try check.spend()
        guard source[offset] == firstByte else {
            offset += 1
            continue
        }
        try check.spend(patternCount)
        guard memcmp(source + offset, pattern, patternCount) == 0 else {
            offset += 1
            continue
        }
        outputCount += replacementCount - patternCount
        if outputCount > lengthLimit {
            sqlite3_result_error_toobig(context)
            return
        }
        output.append(contentsOf: UnsafeBufferPointer(start: source + copiedUpTo, count: offset - copiedUpTo))
        output.append(contentsOf: UnsafeBufferPointer(start: replacement, count: replacementCount))
        offset += patternCount
        copiedUpTo = offset
    }
    output.append(contentsOf: UnsafeBufferPointer(start: source + copiedUpTo, count: sourceCount - copiedUpTo))
    resultText(context, output)
}

/// Sets the result to `bytes` as UTF-8 text; an empty array gives the empty string, not NULL.
private func resultText(_ context: OpaquePointer, _ bytes: [UInt8]) {
    bytes.withUnsafeBufferPointer { buffer in
        resultText(context, buffer)
    }
}

/// Sets the result to a copy of `bytes` as UTF-8 text; no bytes give the empty string, not NULL.
private func resultText(_ context: OpaquePointer, _ bytes: UnsafeBufferPointer<UInt8>) {
    guard let start = bytes.baseAddress, !bytes.isEmpty else {
        sqlite3_result_text(context, "", 0, tenancy_sqlite_transient())
        return
    }
    start.withMemoryRebound(to: CChar.self, capacity: bytes.count) { characters in
        sqlite3_result_text64(context, characters, UInt64(bytes.count), tenancy_sqlite_transient(), UInt8(SQLITE_UTF8))
    }
}

// MARK: - trim, ltrim and rtrim

private let trimBothFunction: SQLFunction = { context, _, arguments in
    guard let context, let arguments else { return }
    trim(context, arguments, ends: .both)
}

private let trimLeadingFunction: SQLFunction = { context, _, arguments in
    guard let context, let arguments else { return }
    trim(context, arguments, ends: .leading)
}

private let trimTrailingFunction: SQLFunction = { context, _, arguments in
    guard let context, let arguments else { return }
    trim(context, arguments, ends: .trailing)
}

/// The ends of the string that `trim` (both), `ltrim` (leading) and `rtrim` (trailing) remove
/// characters from.
private enum TrimmedEnds {
    case leading, trailing, both
}

/// `trim(X, Y)`, `ltrim(X, Y)` and `rtrim(X, Y)`: X as text, with every character of Y removed
/// from the start, the end or both ends, and NULL when X or Y is NULL. A blob or a number is
/// read as text, and the result is always text.
///
/// As in SQLite 3.40, Y is split into characters up to its first NUL byte, where a character
/// starts at every byte that is not a UTF-8 continuation byte, blobs included. X is compared
/// byte by byte, including any NUL bytes it contains, so a character of Y may match part of a
/// character of X. At each end the first character of Y, in Y's order, that X starts or ends
/// with is removed, until none does.
private func trim(_ context: OpaquePointer, _ arguments: UnsafeMutablePointer<OpaquePointer?>, ends: TrimmedEnds) {
    guard sqlite3_value_type(arguments[0]) != SQLITE_NULL, let input = sqlite3_value_text(arguments[0]) else { return }
    let inputCount = Int(sqlite3_value_bytes(arguments[0]))
    guard let characterSet = sqlite3_value_text(arguments[1]) else { return }

    let characterCount = countCharacters(characterSet, upTo: .max)
    guard characterCount > 0 else {
        resultText(context, UnsafeBufferPointer(start: input, count: inputCount))
        return
    }
    // SQLite allocates a pointer and a 32-bit length for each character of Y, and it fails
    // with "string or blob too big" when that allocation is larger than the length limit.
    let tableSize = characterCount * (MemoryLayout<UnsafeRawPointer>.size + MemoryLayout<UInt32>.size)
    if tableSize > Int(sqlite3_limit(sqlite3_context_db_handle(context), SQLITE_LIMIT_LENGTH, -1)) {
        sqlite3_result_error_toobig(context)
        return
    }
    var characters: [UnsafeBufferPointer<UInt8>] = []
    characters.reserveCapacity(characterCount)
    var position = characterSet
    while position.pointee != 0 {
        let start = position
        skipCharacter(&position)
        characters.append(UnsafeBufferPointer(start: start, count: position - start))
    }

    var check = StatementDeadlineCheck(context)
    var remaining = UnsafeBufferPointer(start: input, count: inputCount)
    do {
        if ends != .trailing {
            while let character = try firstCharacter(of: characters, matching: remaining, atEnd: false, &check) {
                remaining = UnsafeBufferPointer(rebasing: remaining.dropFirst(character.count))
            }
        }
        if ends != .leading {
            while let character = try firstCharacter(of: characters, matching: remaining, atEnd: true, &check) {
                remaining = UnsafeBufferPointer(rebasing: remaining.dropLast(character.count))
            }
        }
    } catch {
        sqlite3_result_error_code(context, SQLITE_INTERRUPT)
        return
    }
    resultText(context, remaining)
}

/// Returns the first of `characters` that `text` starts with, or ends with when `atEnd` is
/// true, or nil when there is none. Each character tried costs `check` one unit per byte.
@inline(__always)
private func firstCharacter(
    of characters: [UnsafeBufferPointer<UInt8>], matching text: UnsafeBufferPointer<UInt8>, atEnd: Bool,
    _ check: inout StatementDeadlineCheck
) throws(StatementDeadlineCheck.Passed) -> UnsafeBufferPointer<UInt8>? {
    guard let textStart = text.baseAddress, !text.isEmpty else { return nil }
    for character in characters {
        try check.spend(character.count)
        guard character.count <= text.count else { continue }
        let candidate = atEnd ? textStart + (text.count - character.count) : textStart
        guard let characterStart = character.baseAddress, candidate.pointee == characterStart.pointee else { continue }
        if memcmp(candidate, characterStart, character.count) == 0 { return character }
    }
    return nil
}

// MARK: - like and glob

private let likeFunction: SQLFunction = { context, count, arguments in
    guard let context, let arguments else { return }
    matchPattern(context, arguments, count, syntax: .like)
}

private let globFunction: SQLFunction = { context, count, arguments in
    guard let context, let arguments else { return }
    matchPattern(context, arguments, count, syntax: .glob)
}

/// `like(P, S)`, `like(P, S, E)` and `glob(P, S)`: 1 when the string S matches the pattern P,
/// else 0. `S LIKE P ESCAPE E` calls `like(P, S, E)`.
private func matchPattern(_ context: OpaquePointer, _ arguments: UnsafeMutablePointer<OpaquePointer?>, _ count: Int32, syntax: PatternSyntax) {
    if TimeLimitedStringFunctions.likeIgnoresBlobs,
        sqlite3_value_type(arguments[0]) == SQLITE_BLOB || sqlite3_value_type(arguments[1]) == SQLITE_BLOB
    {
        sqlite3_result_int(context, 0)
        return
    }
    // SQLite bounds the pattern because matching costs up to its length times the string's.
    let patternLimit = sqlite3_limit(sqlite3_context_db_handle(context), SQLITE_LIMIT_LIKE_PATTERN_LENGTH, -1)
    if sqlite3_value_bytes(arguments[0]) > patternLimit {
        sqlite3_result_error(context, "LIKE or GLOB pattern too complex", -1)
        return
    }

    var matcher = PatternMatcher(syntax: syntax)
    if count == 3 {
        guard var escape = sqlite3_value_text(arguments[2]) else { return }
        guard countCharacters(escape, upTo: 2) == 1 else {
            sqlite3_result_error(context, "ESCAPE expression must be a single character", -1)
            return
        }
        matcher.useEscape(readCharacter(&escape))
    }
    guard let pattern = sqlite3_value_text(arguments[0]), let string = sqlite3_value_text(arguments[1]) else { return }

    var check = StatementDeadlineCheck(context)
    do {
        let matched = try matcher.matches(pattern: pattern, string: string, &check)
        sqlite3_result_int(context, matched ? 1 : 0)
    } catch {
        sqlite3_result_error_code(context, SQLITE_INTERRUPT)
    }
}

/// The wildcards of LIKE or GLOB.
struct PatternSyntax {
    /// `%` or `*`: any run of characters.
    var matchAll: UInt32
    /// `_` or `?`: one character.
    var matchOne: UInt32
    /// GLOB's `[`, which opens a character class; 0 for LIKE.
    var classOpen: UInt32
    var ignoresASCIICase: Bool

    static let like = PatternSyntax(matchAll: 0x25, matchOne: 0x5F, classOpen: 0, ignoresASCIICase: true)
    static let glob = PatternSyntax(matchAll: 0x2A, matchOne: 0x3F, classOpen: 0x5B, ignoresASCIICase: false)
}

/// Matches a string against a LIKE or GLOB pattern with SQLite 3.40's rules, on NUL-terminated
/// UTF-8, so an embedded NUL ends either text.
///
/// A failed match backtracks only to the most recent `%` or `*`. When the rest of the pattern
/// after a later wildcard matches no suffix, an earlier wildcard ending later cannot help, and
/// SQLite's matcher stops there too. So the search needs no recursion, and its cost is at most
/// the product of the two lengths.
struct PatternMatcher {
    private var matchAll: UInt32
    private var matchOne: UInt32
    private let classOpen: UInt32
    private let ignoresASCIICase: Bool
    /// The LIKE escape character, or GLOB's `[`; 0 for LIKE without ESCAPE.
    private var special: UInt32

    init(syntax: PatternSyntax) {
        matchAll = syntax.matchAll
        matchOne = syntax.matchOne
        classOpen = syntax.classOpen
        ignoresASCIICase = syntax.ignoresASCIICase
        special = syntax.classOpen
    }

    /// Sets the LIKE escape character. When it is `%` or `_`, that character stops being a
    /// wildcard and only escapes.
    mutating func useEscape(_ escape: UInt32) {
        special = escape
        if escape == matchAll { matchAll = 0 }
        if escape == matchOne { matchOne = 0 }
    }

    /// The position matching resumes from after a mismatch.
    private enum Retry {
        case none
        /// After a wildcard followed by the character `target`: at the next occurrence of it
        /// in the string from `searchFrom`, with the pattern after `target`.
        case character(target: UInt32, patternAfter: UnsafePointer<UInt8>, searchFrom: UnsafePointer<UInt8>)
        /// After `*` followed by a character class: with the class at the next position.
        case characterClass(classStart: UnsafePointer<UInt8>, searchFrom: UnsafePointer<UInt8>)
    }

    private enum Step {
        case next
        case matched
        /// The rest of the string cannot match, whatever any earlier wildcard consumed.
        case failed
        /// Resume at the most recent wildcard.
        case backtrack
    }

    func matches(
        pattern: UnsafePointer<UInt8>, string: UnsafePointer<UInt8>, _ check: inout StatementDeadlineCheck
    ) throws(StatementDeadlineCheck.Passed) -> Bool {
        var patternPosition = pattern
        var stringPosition = string
        var retry = Retry.none
        while true {
            try check.spend()
            switch try step(&patternPosition, &stringPosition, &retry, &check) {
            case .next:
                continue
            case .matched:
                return true
            case .failed:
                return false
            case .backtrack:
                guard try resume(&patternPosition, &stringPosition, &retry, &check) else { return false }
            }
        }
    }

    /// Matches the next pattern element: a character, an escaped character, `_`/`?`, a class,
    /// or a run of wildcards.
    private func step(
        _ pattern: inout UnsafePointer<UInt8>, _ string: inout UnsafePointer<UInt8>, _ retry: inout Retry,
        _ check: inout StatementDeadlineCheck
    ) throws(StatementDeadlineCheck.Passed) -> Step {
        var expected = readCharacter(&pattern)
        if expected == 0 { return string.pointee == 0 ? .matched : .backtrack }
        if expected == matchAll { return try enterWildcard(&pattern, &string, &retry, &check) }

        var isEscaped = false
        if expected == special {
            if classOpen == 0 {
                expected = readCharacter(&pattern)
                if expected == 0 { return .backtrack }
                isEscaped = true
            } else {
                let character = readCharacter(&string)
                if character == 0 { return .backtrack }
                return try characterClass(&pattern, contains: character, &check) ? .next : .backtrack
            }
        }

        let actual = readCharacter(&string)
        if expected == actual { return .next }
        if ignoresASCIICase && expected < 0x80 && actual < 0x80 && asciiLowercase(expected) == asciiLowercase(actual) { return .next }
        if expected == matchOne && !isEscaped && actual != 0 { return .next }
        return .backtrack
    }

    /// Handles `%` or `*` (just read): skips further wildcards, consuming one character of the
    /// string for each `_` or `?`, and makes this the point to backtrack to.
    private func enterWildcard(
        _ pattern: inout UnsafePointer<UInt8>, _ string: inout UnsafePointer<UInt8>, _ retry: inout Retry,
        _ check: inout StatementDeadlineCheck
    ) throws(StatementDeadlineCheck.Passed) -> Step {
        var next: UInt32
        while true {
            try check.spend()
            next = readCharacter(&pattern)
            if next == matchAll { continue }
            guard next == matchOne && matchOne != 0 else { break }
            if readCharacter(&string) == 0 { return .failed }
        }
        if next == 0 { return .matched }
        if next == special {
            if classOpen == 0 {
                next = readCharacter(&pattern)
                if next == 0 { return .failed }
            } else {
                // `[` is one byte, so the class starts one byte back.
                retry = .characterClass(classStart: pattern - 1, searchFrom: string)
                return .backtrack
            }
        }
        retry = .character(target: next, patternAfter: pattern, searchFrom: string)
        return .backtrack
    }

    /// Moves to the next place the most recent wildcard could end; false when there is none.
    private func resume(
        _ pattern: inout UnsafePointer<UInt8>, _ string: inout UnsafePointer<UInt8>, _ retry: inout Retry,
        _ check: inout StatementDeadlineCheck
    ) throws(StatementDeadlineCheck.Passed) -> Bool {
        switch retry {
        case .none:
            return false
        case let .character(target, patternAfter, searchFrom):
            var position = searchFrom
            if target < 0x80 {
                // An ASCII byte is never part of a multi-byte character, so a byte scan finds
                // the same characters as decoding would.
                let byte = UInt8(target)
                let otherCase = ignoresASCIICase ? asciiOtherCase(byte) : byte
                while true {
                    try check.spend()
                    let candidate = position.pointee
                    if candidate == 0 { return false }
                    position += 1
                    if candidate == byte || candidate == otherCase { break }
                }
            } else {
                while true {
                    try check.spend()
                    let candidate = readCharacter(&position)
                    if candidate == 0 { return false }
                    if candidate == target { break }
                }
            }
            retry = .character(target: target, patternAfter: patternAfter, searchFrom: position)
            pattern = patternAfter
            string = position
            return true
        case let .characterClass(classStart, searchFrom):
            if searchFrom.pointee == 0 { return false }
            var next = searchFrom
            skipCharacter(&next)
            retry = .characterClass(classStart: classStart, searchFrom: next)
            pattern = classStart
            string = searchFrom
            return true
        }
    }

    /// Reads a GLOB class after its `[` and returns whether it admits `character`. A `^` first
    /// negates it, a `]` first is a member, and `a-z` is a range unless the `-` comes first or
    /// last. An unterminated class admits nothing.
    private func characterClass(
        _ pattern: inout UnsafePointer<UInt8>, contains character: UInt32, _ check: inout StatementDeadlineCheck
    ) throws(StatementDeadlineCheck.Passed) -> Bool {
        let closing: UInt32 = 0x5D
        let start = pattern
        var isNegated = false
        var isMember = false
        var member = readCharacter(&pattern)
        if member == 0x5E {
            isNegated = true
            member = readCharacter(&pattern)
        }
        if member == closing {
            isMember = character == closing
            member = readCharacter(&pattern)
        }
        // The character before a `-`, which starts a range; 0 right after a range.
        var rangeStart: UInt32 = 0
        while member != 0 && member != closing {
            if member == 0x2D && pattern.pointee != 0x5D && pattern.pointee != 0 && rangeStart > 0 {
                let rangeEnd = readCharacter(&pattern)
                if character >= rangeStart && character <= rangeEnd { isMember = true }
                rangeStart = 0
            } else {
                if character == member { isMember = true }
                rangeStart = member
            }
            member = readCharacter(&pattern)
        }
        try check.spend(pattern - start)
        return member != 0 && isMember != isNegated
    }
}

/// Reads one character as SQLite's UTF-8 decoder does, which differs from a strict decoder on
/// invalid input. A byte below 0xC0 reads as its own value. A lead byte of 0xC0 or more takes
/// every continuation byte that follows, whatever the lead byte announces, and an overlong
/// 2-byte form, a surrogate, U+FFFE or U+FFFF reads as U+FFFD. Returns 0 at the terminating NUL
/// without moving past it.
@inline(__always)
func readCharacter(_ position: inout UnsafePointer<UInt8>) -> UInt32 {
    let lead = position.pointee
    guard lead != 0 else { return 0 }
    position += 1
    guard lead >= 0xC0 else { return UInt32(lead) }
    // The lead byte's value bits: those after its leading ones and the zero that ends them.
    let leadingOnes = (~lead).leadingZeroBitCount
    var value = UInt32(lead) & (0xFF >> UInt32(leadingOnes + 1))
    while position.pointee & 0xC0 == 0x80 {
        value = (value &<< 6) &+ UInt32(position.pointee & 0x3F)
        position += 1
    }
    if value < 0x80 || value & 0xFFFF_F800 == 0xD800 || value & 0xFFFF_FFFE == 0xFFFE {
        value = 0xFFFD
    }
    return value
}

/// Moves past one character, with the same boundaries as ``readCharacter(_:)``.
@inline(__always)
private func skipCharacter(_ position: inout UnsafePointer<UInt8>) {
    let lead = position.pointee
    guard lead != 0 else { return }
    position += 1
    guard lead >= 0xC0 else { return }
    while position.pointee & 0xC0 == 0x80 { position += 1 }
}

/// Counts the characters before the terminating NUL, stopping at `limit`.
private func countCharacters(_ text: UnsafePointer<UInt8>, upTo limit: Int) -> Int {
    var position = text
    var count = 0
    while count < limit && position.pointee != 0 {
        skipCharacter(&position)
        count += 1
    }
    return count
}

@inline(__always)
private func asciiLowercase(_ character: UInt32) -> UInt32 {
    (0x41...0x5A).contains(character) ? character + 0x20 : character
}

@inline(__always)
private func asciiOtherCase(_ byte: UInt8) -> UInt8 {
    switch byte {
    case 0x41...0x5A: byte + 0x20
    case 0x61...0x7A: byte - 0x20
    default: byte
    }
}
