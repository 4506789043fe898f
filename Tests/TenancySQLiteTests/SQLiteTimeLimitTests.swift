import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

/// The statement time limit is a progress handler, which SQLite calls only between virtual
/// machine instructions. One call of a built-in string function whose cost is the product of
/// its argument lengths is a single instruction, so it runs past the limit.
@Suite("SQLite statement time limit, single slow function calls")
struct SQLiteTimeLimitTests {
    @Test("quadratic string functions stop at the time limit", arguments: [
        "SELECT instr(printf('%.*c', 2000000, 'a'), printf('%.*c', 20000, 'a') || 'b') AS result",
        "SELECT length(replace(printf('%.*c', 2000000, 'a'), printf('%.*c', 20000, 'a') || 'b', '')) AS result",
        "SELECT printf('%.*c', 100000, 'a') LIKE '%' || printf('%.*c', 10000, 'a') || 'b' AS result",
        "SELECT printf('%.*c', 100000, 'a') GLOB '*' || printf('%.*c', 10000, 'a') || 'b' AS result",
    ])
    func slowFunctionStopped(sql: String) async throws {
        let fixture = try await IsolationFixture(statementTimeLimit: .milliseconds(50))
        defer { fixture.remove() }
        let a = try await fixture.handle(fixture.tenantA)
        let clock = ContinuousClock()
        let start = clock.now

        var error: IsolationError?
        do {
            _ = try await a.query(SQLiteQuery(unsafeSQL: sql))
        } catch let thrown as IsolationError {
            error = thrown
        }
        let elapsed = clock.now - start

        // NOTE: a known gap. Today each statement returns its result after about a second.
        withKnownIssue("SQLite calls the progress handler only between instructions") {
            #expect(error?.code == .timeLimitExceeded)
            #expect(elapsed < .milliseconds(500))
        }
    }
}
