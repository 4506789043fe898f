import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// The verified binding's session reset and the statement cache, together.
@Suite("PostgreSQL session reset with the statement cache", .serialized)
struct PostgresSessionResetTests {
    @Test("cache of one prepares one statement of a pipeline")
    func cacheOfOneStaysAtOne() async throws {
        var configuration = try PostgresConfiguration(url: try PostgresTestServer.urls().application)
        configuration.preparedStatementCacheSize = 1
        let database = try PostgresDatabase(configuration, maximumConnections: 1)
        let results = try await database.pipeline(
            [PostgresStatement("SELECT $1::int8 + 1 AS value", [.integer(1)]), PostgresStatement("SELECT $1::int8 + 2 AS value", [.integer(1)])],
            sessionReset: PostgresTenantDatabase.sessionReset())
        #expect(try results[0].rows[0].integer("value") == 2)
        #expect(try results[1].rows[0].integer("value") == 3)
        let prepared = try await database.withCheckedOutConnection { connection in
            connection.box.preparedNames.count
        }
        #expect(prepared == 1)
        await database.close()
    }

    @Test("same new statement twice in a pipeline gets one name")
    func duplicateStatementInPipeline() async throws {
        var configuration = try PostgresConfiguration(url: try PostgresTestServer.urls().application)
        configuration.preparedStatementCacheSize = 4
        let database = try PostgresDatabase(configuration, maximumConnections: 1)
        let statement = PostgresStatement("SELECT $1::int8 * 2 AS value", [.integer(21)])
        let results = try await database.pipeline([statement, statement])
        #expect(try results[0].rows[0].integer("value") == 42)
        #expect(try results[1].rows[0].integer("value") == 42)
        let prepared = try await database.withCheckedOutConnection { connection in
            connection.box.preparedNames.count
        }
        #expect(prepared == 1)
        await database.close()
    }

    @Test("DEALLOCATE ALL with unnamed reset runs B's write once", arguments: RowLevelSecurityFixture.verifiedChecks)
    func deallocateWithUnnamedReset(check: PostgresBindingCheck) async throws {
        // A cache of two fills before the reset statements are prepared, so the reset goes
        // unnamed, survives DEALLOCATE ALL and keeps the connection.
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1, preparedStatementCacheSize: 2) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            let pid = try await asA.query("SELECT pg_backend_pid() AS pid")[0].integer("pid")
            let resetIsPrepared = try await fixture.pool.withCheckedOutConnection { connection in
                PostgresTenantDatabase.sessionReset().contains { connection.box.preparedNames[PreparedKey($0)] != nil }
            }
            #expect(!resetIsPrepared)
            // The C check sends no reset statements, so only the binding is prepared.
            #expect(fixture.tenants.sessionResetStatements.count == (check == .library ? 0 : PostgresTenantDatabase.sessionReset().count))
            try await asA.execute("DEALLOCATE ALL")

            let inserted = try await asB.execute("INSERT INTO \(unsafeSQL: fixture.items) (tenant_id, id) VALUES (\(fixture.tenantB), 'b2')")
            #expect(inserted == 1)
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1", "b2"])
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
            let nextPID = try await asB.query("SELECT pg_backend_pid() AS pid")[0].integer("pid")
            #expect(nextPID == pid)
        }
    }

    @Test("time zone change inside a read fails closed", arguments: RowLevelSecurityFixture.verifiedChecks, [
        "SELECT id FROM (SELECT set_config('TimeZone', 'Pacific/Kiritimati', false)) AS z, %@ ORDER BY id",
        "SELECT id FROM (SELECT set_config('DateStyle', 'SQL, DMY', true)) AS z, %@ ORDER BY id",
        "SELECT id FROM %@ WHERE set_config('TimeZone', 'UTC+7', true) IS NOT NULL ORDER BY id",
    ])
    func timeZoneChangeFailsClosed(check: PostgresBindingCheck, template: String) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let sql = template.replacingOccurrences(of: "%@", with: fixture.items)
            let ids = try await asA.query(PostgresQuery(unsafeSQL: sql)).map { try $0.text("id") }
            #expect(ids.allSatisfy { $0.hasPrefix("a") }, "\(ids)")
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
        }
    }

    @Test("connection ended in the reset returns the statement's result")
    func connectionEndedInReset() async throws {
        let database = try PostgresDatabase(url: try PostgresTestServer.urls().admin, maximumConnections: 1)
        let pid = try await database.query("SELECT pg_backend_pid() AS pid")[0].integer("pid")
        let results = try await database.pipeline(
            [PostgresStatement("SELECT pg_backend_pid() AS pid")],
            sessionReset: [PostgresStatement("SELECT pg_terminate_backend(pg_backend_pid())")])
        #expect(try results[0].rows[0].integer("pid") == pid)
        let next = try await database.query("SELECT pg_backend_pid() AS pid")[0].integer("pid")
        #expect(next != pid)
        #expect(database.openConnections == 1)
        await database.close()
    }

    @Test("NULL and text arguments share a prepared statement")
    func nullAndTextArguments() async throws {
        let database = try PostgresDatabase(url: try PostgresTestServer.urls().application, maximumConnections: 1)
        let sql = "SELECT coalesce($1, 'none') AS value, $2::int8 AS n"
        let cases: [(PostgresValue, PostgresValue, String)] = [
            (.null, .integer(1), "none"), (.text("x"), .integer(2), "x"), (.null, .text("3"), "none"), (.text("y"), .null, "y"),
        ]
        for (first, second, expected) in cases {
            let rows = try await database.query(sql, [first, second])
            #expect(try rows[0].text("value") == expected)
        }
        await database.close()
    }
}
