import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

/// The statement time limit is a progress handler, which SQLite calls only between virtual
/// machine instructions. One call of a built-in string function whose cost is the product of
/// its argument lengths is a single instruction, so the library replaces those functions with
/// versions that check the deadline themselves.
@Suite("SQLite statement time limit, single slow function calls")
struct SQLiteTimeLimitTests {
    @Test("quadratic string functions stop at the time limit", arguments: [
        "SELECT instr(printf('%.*c', 2000000, 'a'), printf('%.*c', 20000, 'a') || 'b') AS result",
        "SELECT instr(CAST(printf('%.*c', 2000000, 'a') AS BLOB), CAST(printf('%.*c', 20000, 'a') || 'b' AS BLOB)) AS result",
        "SELECT length(replace(printf('%.*c', 2000000, 'a'), printf('%.*c', 20000, 'a') || 'b', '')) AS result",
        "SELECT printf('%.*c', 100000, 'a') LIKE '%' || printf('%.*c', 10000, 'a') || 'b' AS result",
        "SELECT printf('%.*c', 100000, 'a') LIKE '%' || printf('%.*c', 10000, 'a') || 'b' ESCAPE '!' AS result",
        "SELECT printf('%.*c', 100000, 'a') GLOB '*' || printf('%.*c', 10000, 'a') || 'b' AS result",
        "SELECT printf('%.*c', 100000, 'a') GLOB '*[' || printf('%.*c', 10000, 'a') || ']b' AS result",
        "SELECT length(trim(printf('%.*c', 200000, 'a'), printf('%.*c', 200000, 'b') || 'a')) AS result",
        "SELECT length(ltrim(printf('%.*c', 200000, 'a'), printf('%.*c', 200000, 'b') || 'a')) AS result",
        "SELECT length(rtrim(printf('%.*c', 200000, 'a'), printf('%.*c', 200000, 'b') || 'a')) AS result",
        "SELECT length(trim(replace(printf('%.*c', 200000, 'a'), 'a', 'é'), replace(printf('%.*c', 200000, 'b'), 'b', '😀') || 'é')) AS result",
        "SELECT length(trim(CAST(printf('%.*c', 200000, 'a') AS BLOB), CAST(printf('%.*c', 200000, 'b') || 'a' AS BLOB))) AS result",
    ])
    func slowFunctionStopped(sql: String) async throws {
        let fixture = try await IsolationFixture(statementTimeLimit: .milliseconds(50))
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)
        let clock = ContinuousClock()
        let start = clock.now

        let error = await isolationError {
            _ = try await a.query(SQLiteQuery(unsafeSQL: sql))
        }
        let elapsed = clock.now - start

        #expect(error?.code == .timeLimitExceeded)
        #expect(elapsed < .milliseconds(500), "the statement ran for \(elapsed)")
        let next = try await a.query("SELECT count(*) AS n FROM debates")
        #expect(try next[0].integer("n") == 3)
    }

    @Test("slow function in a write stops and rolls back")
    func slowFunctionInWriteStopped() async throws {
        let fixture = try await IsolationFixture(statementTimeLimit: .milliseconds(50))
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)
        let clock = ContinuousClock()
        let start = clock.now

        let error = await isolationError {
            try await a.execute(SQLiteQuery(unsafeSQL: """
                UPDATE debates SET title = 'changed'
                WHERE instr(printf('%.*c', 2000000, 'a'), printf('%.*c', 20000, 'a') || 'b') = 0
                """))
        }
        let elapsed = clock.now - start

        #expect(error?.code == .timeLimitExceeded)
        #expect(elapsed < .milliseconds(500), "the statement ran for \(elapsed)")
        let changed = try await a.query("SELECT count(*) AS n FROM debates WHERE title = 'changed'")
        #expect(try changed[0].integer("n") == 0)
        #expect(try await a.execute("UPDATE debates SET title = 'renamed' WHERE id = 'a1'") == 1)
    }
}
