import Dispatch
import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// URL parsing needs no server.
@Suite("PostgreSQL configuration")
struct PostgresConfigurationTests {
    @Test("URL with percent-encoded parts")
    func parsesURL() throws {
        let configuration = try PostgresConfiguration(url: "postgres://app%40corp:p%40ss%3Aword@db.example:6543/tenancy%5Fprod?sslmode=require")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.user == "app@corp")
        #expect(configuration.password == "p@ss:word")
        #expect(configuration.database == "tenancy_prod")
        #expect(configuration.parameters == ["sslmode": "require"])
    }

    @Test("description hides the password")
    func descriptionHidesPassword() throws {
        let configuration = try PostgresConfiguration(url: "postgresql://app:hunter2@127.0.0.1/tenancy")
        #expect(configuration.description == "postgres://app@127.0.0.1:5432/tenancy")
    }

    @Test("keywords carry each field separately")
    func keywordsAreSeparate() throws {
        let configuration = try PostgresConfiguration(url: "postgres://app:pw@127.0.0.1/db%20name%20host%3Devil")
        let keywords = Dictionary(uniqueKeysWithValues: configuration.keywords)
        #expect(keywords["dbname"] == "db name host=evil")
        #expect(keywords["host"] == "127.0.0.1")
        #expect(keywords["password"] == "pw")
    }

    @Test("invalid URLs are rejected without echoing them", arguments: [
        "mysql://app:secretpw@host/db", "postgres://app:secretpw@host", "postgres://:secretpw@host/db",
        "postgres://app:secretpw@host/db?sslmod=require", "postgres://app:secretpw@host:70000/db",
    ])
    func rejectsInvalidURL(url: String) throws {
        let error = try #require(throws: PostgresError.self) { try PostgresConfiguration(url: url) }
        #expect(error.kind == .invalidConfiguration)
        #expect(!error.description.contains("secretpw"))
    }
}

@Suite("PostgreSQL connection and pool", .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipMessage))
struct PostgresConnectionTests {
    /// Creates a pool of its own, for tests that change the pool's size or limits.
    static func pool(size: Int = 2, checkoutTimeout: Duration = .seconds(10), statementTimeLimit: Duration? = .seconds(30)) throws -> PostgresDatabase {
        var configuration = try PostgresConfiguration(url: try PostgresTestServer.urls().application)
        configuration.statementTimeLimit = statementTimeLimit
        return try PostgresDatabase(configuration, maximumConnections: size, checkoutTimeout: checkoutTimeout)
    }

    @Test("statement bodies run on the connection's own queue")
    func bodiesRunOnConnectionQueue() async throws {
        let database = try await PostgresTestServer.application()

        let inConnection = try await database.withConnection { _ in
            DispatchQueue.getSpecific(key: DispatchQueueExecutor.labelKey)
        }
        let inTransaction = try await database.transaction { _ in
            DispatchQueue.getSpecific(key: DispatchQueueExecutor.labelKey)
        }

        #expect(inConnection == "tenancy.postgres.connection")
        #expect(inTransaction == "tenancy.postgres.connection")
    }

    @Test("arguments are bound, never spliced")
    func bindsArguments() async throws {
        let database = try await PostgresTestServer.application()
        let hostile = "'; DROP TABLE pg_class; --"
        let rows = try await database.query(
            "SELECT $1::text AS text, $2 + 1 AS next, $3::bool AS flag, $4::bytea AS bytes, $5::text AS missing, $6::float8 AS ratio",
            [.text(hostile), .integer(Int64.max - 1), .boolean(true), .bytes([0, 1, 0xFE, 0xFF]), .null, .double(0.25)])
        let row = try #require(rows.first)
        #expect(try row.text("text") == hostile)
        #expect(try row.integer("next") == Int64.max)
        #expect(try row.boolean("flag") == true)
        #expect(try row.bytes("bytes") == [0, 1, 0xFE, 0xFF])
        #expect(try row.isNull("missing"))
        #expect(try row.double("ratio") == 0.25)
    }

    @Test("text with NUL is rejected before sending")
    func rejectsNUL() async throws {
        let database = try await PostgresTestServer.application()
        let error = try await #require(throws: PostgresError.self) {
            try await database.query("SELECT $1::text AS value", [.text("a\u{0}b")])
        }
        #expect(error.kind == .invalidArgument)
    }

    @Test("server error has SQLSTATE and no values in description")
    func serverErrorKeepsValuesOut() async throws {
        // The application role may not create temporary tables.
        let database = try await PostgresTestServer.owner()
        let secret = "row-secret-4711"
        let error = try await #require(throws: PostgresError.self) {
            try await database.transaction { connection in
                try connection.execute("CREATE TEMPORARY TABLE unique_probe (value text PRIMARY KEY) ON COMMIT DROP")
                try connection.execute("INSERT INTO unique_probe (value) VALUES ($1)", [.text(secret)])
                try connection.execute("INSERT INTO unique_probe (value) VALUES ($1)", [.text(secret)])
            }
        }
        #expect(error.kind == .server)
        #expect(error.code == .uniqueViolation)
        #expect(error.constraintName == "unique_probe_pkey")
        #expect(error.tableName == "unique_probe")
        #expect(!error.description.contains(secret))
        #expect(error.debugDescription.contains(secret))
    }

    @Test("invalid input value stays out of description")
    func invalidInputKeepsValueOut() async throws {
        let database = try await PostgresTestServer.application()
        let error = try await #require(throws: PostgresError.self) {
            try await database.query("SELECT $1::int8 AS value", [.text("not-a-number-9931")])
        }
        #expect(error.code == .invalidTextRepresentation)
        #expect(!error.description.contains("not-a-number-9931"))
    }

    @Test("wrong password fails to connect without echoing it")
    func wrongPassword() async throws {
        var configuration = try PostgresConfiguration(url: try PostgresTestServer.urls().application)
        configuration.password = "wrong-password-5150"
        let error = try await #require(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(configuration)
        }
        #expect(error.kind == .connectionFailed)
        #expect(!error.description.contains("wrong-password-5150"))
    }

    @Test("transaction rolls back when the body throws")
    func transactionRollsBack() async throws {
        // The application role may not create temporary tables.
        let database = try await PostgresTestServer.owner()
        try await database.withCheckedOutConnection { connection in
            try await connection.withConnection { connection in
                try connection.execute("CREATE TEMPORARY TABLE rollback_probe (value int8)")
            }
            await #expect(throws: PostgresError.self) {
                try await connection.transaction { connection in
                    try connection.execute("INSERT INTO rollback_probe (value) VALUES ($1)", [.integer(1)])
                    try connection.execute("SELECT 1 / 0")
                }
            }
            let count = try await connection.withConnection { connection in
                try connection.query("SELECT count(*) AS n FROM rollback_probe")[0].integer("n")
            }
            #expect(count == 0)
            try await connection.withConnection { connection in
                try connection.execute("DROP TABLE rollback_probe")
            }
        }
    }

    @Test("statement time limit cancels with PQcancel")
    func statementTimeLimit() async throws {
        let database = try Self.pool(size: 1, statementTimeLimit: .milliseconds(300))
        // Open the pool's connection first, so the timing below covers the statement only;
        // the bound is far below the statement's 60 s and far above scheduling noise under load.
        _ = try await database.query("SELECT 1")
        let started = ContinuousClock.now
        let error = try await #require(throws: PostgresError.self) {
            try await database.execute("SELECT pg_sleep(60)")
        }
        #expect(error.kind == .statementTimedOut)
        #expect(error.code == .queryCanceled)
        #expect(ContinuousClock.now - started < .seconds(20))
        let rows = try await database.query("SELECT 7 AS value")
        #expect(try rows[0].integer("value") == 7)
        await database.close()
    }

    @Test("task cancellation cancels the running statement")
    func taskCancellation() async throws {
        let database = try Self.pool(size: 1)
        _ = try await database.query("SELECT 1")
        let task = Task {
            try await database.execute("SELECT pg_sleep(60)")
        }
        try await Task.sleep(for: .milliseconds(300))
        let cancelled = ContinuousClock.now
        task.cancel()
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        // The statement would run 60 s; the bound leaves room for scheduling under load.
        #expect(ContinuousClock.now - cancelled < .seconds(20))
        let rows = try await database.query("SELECT 8 AS value")
        #expect(try rows[0].integer("value") == 8)
        await database.close()
    }

    @Test("checkout times out when the pool is exhausted")
    func checkoutTimeout() async throws {
        let database = try Self.pool(size: 1, checkoutTimeout: .milliseconds(200))
        let error = try await database.withCheckedOutConnection { _ in
            try await #require(throws: PostgresError.self) {
                try await database.query("SELECT 1 AS value")
            }
        }
        #expect(error.kind == .checkoutTimedOut)
        #expect(database.openConnections == 1)
        let rows = try await database.query("SELECT 1 AS value")
        #expect(rows.count == 1)
        await database.close()
    }

    @Test("waiting checkouts get connections in turn")
    func waitersAreServed() async throws {
        let database = try Self.pool(size: 2)
        let total = try await withThrowingTaskGroup(of: Int64.self) { group in
            for value in 1...20 {
                group.addTask {
                    try await database.query("SELECT $1::int8 AS value, pg_sleep(0.01)", [.integer(Int64(value))])[0].integer("value")
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(total == 210)
        #expect(database.openConnections <= 2)
        await database.close()
    }

    @Test("broken connection is replaced")
    func replacesBrokenConnection() async throws {
        let database = try Self.pool(size: 1)
        let admin = try await PostgresTestServer.admin()
        let firstPID = try await database.withCheckedOutConnection { $0.backendPID }
        let terminated = try await admin.query("SELECT pg_terminate_backend($1::int4) AS done", [.integer(Int64(firstPID))])
        #expect(try terminated[0].boolean("done"))
        // pg_terminate_backend returns before the backend exits; wait until it is gone.
        for _ in 0..<50 {
            let alive = try await admin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1::int4", [.integer(Int64(firstPID))])
            if try alive[0].integer("n") == 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }

        // The backend leaves pg_stat_activity before the client's socket shows the close, so a
        // checkout right after may still find the old connection healthy; the pool must replace
        // it as soon as the close is visible.
        var secondPID = firstPID
        for _ in 0..<100 where secondPID == firstPID {
            secondPID = try await database.withCheckedOutConnection { $0.backendPID }
            if secondPID == firstPID { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(secondPID != firstPID)
        #expect(database.openConnections == 1)
        let rows = try await database.query("SELECT 9 AS value")
        #expect(try rows[0].integer("value") == 9)
        await database.close()
    }

    @Test("connection left in a transaction is not reused")
    func openTransactionIsDiscarded() async throws {
        let database = try Self.pool(size: 1)
        let firstPID = try await database.withConnection { connection in
            try connection.execute("BEGIN")
            return connection.backendPID
        }
        let secondPID = try await database.withCheckedOutConnection { $0.backendPID }
        #expect(secondPID != firstPID)
        await database.close()
    }

    @Test("closed pool rejects checkouts")
    func closedPool() async throws {
        let database = try Self.pool(size: 1)
        await database.close()
        let error = try await #require(throws: PostgresError.self) { try await database.query("SELECT 1") }
        #expect(error.kind == .poolClosed)
    }

    @Test("pipeline returns one result per statement")
    func pipelineResults() async throws {
        let database = try await PostgresTestServer.application()
        let results = try await database.pipeline([
            PostgresStatement("SELECT $1::int8 AS value", [.integer(1)]),
            PostgresStatement("SELECT $1::text AS value", [.text("two")]),
            PostgresStatement("SELECT generate_series(1, 3) AS value"),
        ])
        #expect(results.count == 3)
        #expect(try results[0].rows[0].integer("value") == 1)
        #expect(try results[1].rows[0].text("value") == "two")
        #expect(results[2].rows.count == 3)
    }

    @Test("pipeline shares one implicit transaction")
    func pipelineTransaction() async throws {
        let database = try Self.pool(size: 1)
        let results = try await database.pipeline([
            PostgresStatement("SELECT set_config('tenancy.probe', $1, true) AS bound", [.text("acme")]),
            PostgresStatement("SELECT current_setting('tenancy.probe', true) AS seen, txid_current() AS transaction"),
            PostgresStatement("SELECT txid_current() AS transaction"),
        ])
        #expect(try results[1].rows[0].text("seen") == "acme")
        #expect(try results[1].rows[0].integer("transaction") == results[2].rows[0].integer("transaction"))

        // The local setting ended with the implicit transaction at the Sync.
        let after = try await database.query("SELECT coalesce(current_setting('tenancy.probe', true), '') AS seen")
        #expect(try after[0].text("seen") == "")
        await database.close()
    }

    @Test("pipeline failure rolls back every statement")
    func pipelineFailureRollsBack() async throws {
        // The application role may not create temporary tables.
        let database = try PostgresDatabase(url: try PostgresTestServer.urls().owner, maximumConnections: 1)
        try await database.execute("CREATE TEMPORARY TABLE pipeline_probe (value int8 PRIMARY KEY)")
        let error = try await #require(throws: PostgresError.self) {
            try await database.pipeline([
                PostgresStatement("INSERT INTO pipeline_probe (value) VALUES ($1)", [.integer(1)]),
                PostgresStatement("INSERT INTO pipeline_probe (value) VALUES ($1)", [.integer(1)]),
                PostgresStatement("INSERT INTO pipeline_probe (value) VALUES ($1)", [.integer(3)]),
            ])
        }
        #expect(error.code == .uniqueViolation)
        let rows = try await database.query("SELECT count(*) AS n FROM pipeline_probe")
        #expect(try rows[0].integer("n") == 0)
        await database.close()
    }

    @Test("many tasks on a small pool each get their own results")
    func directPathKeepsResultsApart() async throws {
        let database = try Self.pool(size: 3)
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<24 {
                group.addTask {
                    var wrong = 0
                    for round in 0..<25 {
                        let value = Int64(task * 1_000 + round)
                        let results = try await database.pipeline([
                            PostgresStatement("SELECT $1::int8 AS value", [.integer(value)]),
                            PostgresStatement("SELECT $1::int8 * 2 AS value, repeat('x', ($1::int8 % 7)::int4) AS padding", [.integer(value)]),
                        ])
                        if try results[0].rows[0].integer("value") != value { wrong += 1 }
                        if try results[1].rows[0].integer("value") != value * 2 { wrong += 1 }
                    }
                    return wrong
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(mismatches == 0)
        #expect(database.openConnections == 3)
        await database.close()
    }

    @Test("large arguments and results cross in several socket reads and writes")
    func directPathLargeMessages() async throws {
        let database = try Self.pool(size: 1)
        // 24 MiB does not fit the socket buffers, so sending waits for the socket to drain
        // and the reply of 200,000 rows arrives in many reads.
        let argument = String(repeating: "tenancy-", count: 3 * 1_024 * 1_024)
        let echoed = try await database.query("SELECT length($1::text) AS length, md5($1::text) AS digest", [.text(argument)])
        #expect(try echoed[0].integer("length") == Int64(argument.utf8.count))
        let series = try await database.query("SELECT value, repeat('r', 20) AS padding FROM generate_series(1, 200000) AS value")
        #expect(series.count == 200_000)
        #expect(try series[199_999].integer("value") == 200_000)
        await database.close()
    }

    @Test("a connection ended during a statement fails that statement and is replaced")
    func directPathBrokenMidStatement() async throws {
        let database = try Self.pool(size: 1)
        let admin = try await PostgresTestServer.admin()
        let pid = try await database.query("SELECT pg_backend_pid() AS pid")[0].integer("pid")
        let sleeper = Task { try await database.query("SELECT pg_sleep(30)") }
        // Wait until the statement runs, then end its backend.
        for _ in 0..<200 {
            let active = try await admin.query(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1::int4 AND state = 'active'", [.integer(pid)])
            if try active[0].integer("n") == 1 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        _ = try await admin.query("SELECT pg_terminate_backend($1::int4)", [.integer(pid)])
        let error = try await #require(throws: PostgresError.self) { try await sleeper.value }
        #expect(error.code == .adminShutdown || error.kind == .connectionBroken)
        let next = try await database.query("SELECT pg_backend_pid() AS pid")[0].integer("pid")
        #expect(next != pid)
        #expect(database.openConnections == 1)
        await database.close()
    }

    @Test("statement cache stops at its size")
    func statementCacheCapacity() async throws {
        var configuration = try PostgresConfiguration(url: try PostgresTestServer.urls().application)
        configuration.preparedStatementCacheSize = 2
        let database = try PostgresDatabase(configuration, maximumConnections: 1)
        for round in 1...3 {
            for (offset, sql) in ["SELECT $1::int8 + 1 AS value", "SELECT $1::int8 + 2 AS value", "SELECT $1::int8 + 3 AS value"].enumerated() {
                let value = try await database.query(sql, [.integer(Int64(round * 10))])[0].integer("value")
                #expect(value == Int64(round * 10 + offset + 1))
            }
        }
        let (capacity, prepared) = try await database.withCheckedOutConnection { connection in
            (connection.box.preparedCapacity, connection.box.preparedNames.count)
        }
        #expect(capacity == 2)
        #expect(prepared == 2)
        await database.close()
    }

    @Test("negative statement cache size is rejected")
    func negativeCacheSize() throws {
        var configuration = try PostgresConfiguration(url: try PostgresTestServer.urls().application)
        configuration.preparedStatementCacheSize = -1
        let error = #expect(throws: PostgresError.self) { try PostgresDatabase(configuration) }
        #expect(error?.kind == .invalidConfiguration)
    }

    @Test("deallocated and changed statements are prepared again")
    func stalePreparedStatements() async throws {
        let database = try PostgresDatabase(url: try PostgresTestServer.urls().owner, maximumConnections: 1)
        let table = try PostgresIdentifier.quoted(PostgresTestServer.uniqueSchemaName("cache_probe"))
        try await database.execute("CREATE TABLE \(table) (a int8)")
        try await database.execute("INSERT INTO \(table) (a) VALUES (1)")
        #expect(try await database.query("SELECT * FROM \(table)")[0].integer("a") == 1)

        // DEALLOCATE ALL removes every name; the next call prepares again.
        try await database.execute("DEALLOCATE ALL")
        #expect(try await database.query("SELECT * FROM \(table)")[0].integer("a") == 1)

        // A new column changes the result of SELECT *, which a prepared statement refuses.
        try await database.execute("ALTER TABLE \(table) ADD COLUMN b int8 DEFAULT 7")
        let changed = try await database.query("SELECT * FROM \(table)")
        #expect(try changed[0].integer("b") == 7)
        try await database.execute("DROP TABLE \(table)")
        await database.close()
    }

    @Test("pipeline with a write is not sent again")
    func staleAfterWriteIsNotRepeated() async throws {
        let database = try PostgresDatabase(url: try PostgresTestServer.urls().owner, maximumConnections: 1)
        let table = try PostgresIdentifier.quoted(PostgresTestServer.uniqueSchemaName("cache_write"))
        try await database.execute("CREATE TABLE \(table) (a int8)")
        let insert = PostgresStatement("INSERT INTO \(table) (a) VALUES ($1)", [.integer(1)])
        let count = PostgresStatement("SELECT count(*) AS n FROM \(table)")
        #expect(try await database.pipeline([insert, count])[1].rows[0].integer("n") == 1)

        // Remove only the count's statement: the insert runs, then the count fails before it
        // runs, which rolls the insert back, and the pool must not send the insert again.
        let countName = try await database.withCheckedOutConnection { connection in
            connection.box.preparedNames[PreparedKey(count)]
        }
        let name = try #require(countName)
        try await database.execute("DEALLOCATE \(name)")
        let error = await #expect(throws: PostgresError.self) { try await database.pipeline([insert, count]) }
        #expect(error?.code == .invalidSQLStatementName)
        #expect(try await database.query("SELECT count(*) AS n FROM \(table)")[0].integer("n") == 1)
        try await database.execute("DROP TABLE \(table)")
        await database.close()
    }

    @Test("failed session reset closes the connection")
    func failedSessionResetClosesConnection() async throws {
        let database = try Self.pool(size: 1)
        let pid = try await database.query("SELECT pg_backend_pid() AS pid")[0].integer("pid")

        // The statement's result arrives although the reset after its Sync failed.
        let results = try await database.pipeline(
            [PostgresStatement("SELECT pg_backend_pid() AS pid")], sessionReset: [PostgresStatement("SELECT 1 / 0")])
        #expect(try results[0].rows[0].integer("pid") == pid)

        let next = try await database.query("SELECT pg_backend_pid() AS pid")[0].integer("pid")
        #expect(next != pid)
        #expect(database.openConnections == 1)
        await database.close()
    }

    @Test("session reset runs after a failed statement")
    func sessionResetAfterFailure() async throws {
        let database = try Self.pool(size: 1)
        // `1 / (g - 1)`, unlike `1 / 0`, fails when the row is computed, after the lock.
        let lock = "SELECT pg_advisory_lock(hashtextextended('tenancy.test.reset-after-failure', 0)), 1 / (g - 1) FROM generate_series(1, 1) AS g"
        let error = await #expect(throws: PostgresError.self) {
            try await database.pipeline([PostgresStatement(lock)], sessionReset: [PostgresStatement("SELECT pg_advisory_unlock_all()")])
        }
        #expect(error?.code?.rawValue == "22012")
        let locks = try await database.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        #expect(try locks[0].integer("n") == 0)
        await database.close()
    }

    /// The COPY forms that hand the connection to a data stream, with the pool that may run
    /// each: the application role cannot write the temporary table `COPY ... FROM STDIN` needs.
    static let copyStatements: [(sql: String, owner: Bool)] = [
        ("COPY (SELECT 1) TO STDOUT", false),
        ("COPY copy_probe FROM STDIN", true),
    ]

    @Test("COPY through the pool fails and the connection is replaced", arguments: copyStatements)
    func copyIsRejected(_ sql: String, _ owner: Bool) async throws {
        var configuration = try PostgresConfiguration(url: owner ? PostgresTestServer.urls().owner : PostgresTestServer.urls().application)
        configuration.statementTimeLimit = .seconds(30)
        let database = try PostgresDatabase(configuration, maximumConnections: 1)
        let pid = try await database.withConnection { connection in
            if owner { try connection.execute("CREATE TEMPORARY TABLE copy_probe (value int8)") }
            return connection.backendPID
        }

        let result = await outcome(within: .seconds(10)) { try await database.query(sql) }
        let error = try #require(result, "COPY did not return within 10 seconds")
        #expect(throws: PostgresError.self) { try error.get() }
        if case .failure(let failure as PostgresError) = error {
            #expect(failure.kind == .invalidArgument)
            #expect(failure.message == "COPY with STDIN or STDOUT is not supported, because the library reads whole results; read rows with SELECT and write them with INSERT")
        }

        // The connection was inside the COPY, so the pool closed it and opens another.
        let next = await outcome(within: .seconds(10)) { try await database.query("SELECT pg_backend_pid() AS pid") }
        let nextPID = try #require(next, "the statement after COPY did not return within 10 seconds").get()[0].integer("pid")
        #expect(nextPID != pid)
        #expect(database.openConnections == 1)
        await database.close()
    }

    @Test("COPY in a transaction fails and the connection is replaced")
    func copyInTransactionIsRejected() async throws {
        let database = try Self.pool(size: 1)
        let pid = try await database.withCheckedOutConnection { $0.backendPID }

        let result = await outcome(within: .seconds(10)) {
            try await database.transaction { connection in
                try connection.pipeline([PostgresStatement("SELECT 1"), PostgresStatement("COPY (SELECT 1) TO STDOUT")]).count
            }
        }
        let error = try #require(result, "COPY did not return within 10 seconds")
        if case .failure(let failure as PostgresError) = error {
            #expect(failure.kind == .invalidArgument)
        } else {
            Issue.record("expected a PostgresError, got \(error)")
        }

        let next = await outcome(within: .seconds(10)) { try await database.query("SELECT pg_backend_pid() AS pid") }
        let nextPID = try #require(next, "the statement after COPY did not return within 10 seconds").get()[0].integer("pid")
        #expect(nextPID != pid)
        #expect(database.openConnections == 1)
        await database.close()
    }

    @Test("audit table is append-only for the application role")
    func auditIsAppendOnly() async throws {
        let database = try await PostgresTestServer.application()
        try await PostgresTestServer.withRegistrySchema { schema in
            let store = try await PostgresAuditStore(database: database, schema: schema)
            try await store.append(AuditRecord(time: Date(millisecondsSince1970: 1_000), tenantID: "acme-corp", principalID: nil, action: .tenantCreated, outcome: .success))
            let table = "\(try PostgresIdentifier.quoted(schema.name)).tenancy_audit"

            let update = try await #require(throws: PostgresError.self) {
                try await database.execute("UPDATE \(table) SET outcome = $1", [.text("failed")])
            }
            #expect(update.code == .insufficientPrivilege)
            let delete = try await #require(throws: PostgresError.self) {
                try await database.execute("DELETE FROM \(table)")
            }
            #expect(delete.code == .insufficientPrivilege)
            let truncate = try await #require(throws: PostgresError.self) {
                try await database.execute("TRUNCATE \(table)")
            }
            #expect(truncate.code == .insufficientPrivilege)
            let records = try await store.records(AuditQuery())
            #expect(records.count == 1)
        }
    }

    @Test("application role cannot create objects in the registry schema")
    func applicationRoleCannotCreate() async throws {
        let database = try await PostgresTestServer.application()
        try await PostgresTestServer.withRegistrySchema { schema in
            let error = try await #require(throws: PostgresError.self) {
                try await database.execute("CREATE TABLE \(try PostgresIdentifier.quoted(schema.name)).intruder (id int8)")
            }
            #expect(error.code == .insufficientPrivilege)
        }
    }

    @Test("store refuses a schema that is not installed")
    func storeNeedsInstalledSchema() async throws {
        let database = try await PostgresTestServer.application()
        let schema = try PostgresRegistrySchema(name: PostgresTestServer.uniqueSchemaName("missing"))
        let error = try await #require(throws: PostgresError.self) {
            _ = try await PostgresTenantStore(database: database, schema: schema)
        }
        #expect(error.kind == .invalidConfiguration)
        #expect(error.description.contains("install(owner:applicationRole:)"))
    }

    @Test("migrations apply once under concurrent installers")
    func concurrentMigrations() async throws {
        let owner = try await PostgresTestServer.owner()
        let applicationRole = try await PostgresTestServer.application().configuration.user
        let schema = try PostgresRegistrySchema(name: PostgresTestServer.uniqueSchemaName("concurrent"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask { try await schema.install(owner: owner, applicationRole: applicationRole) }
            }
            try await group.waitForAll()
        }
        let rows = try await owner.query(
            "SELECT count(*) AS n FROM \(try PostgresIdentifier.quoted(schema.name)).tenancy_migrations WHERE component = $1",
            [.text("registry")])
        #expect(try rows[0].integer("n") == 1)
        try await PostgresTestServer.dropSchema(schema.name)
    }
}
