import CLibPQ
import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// HMAC and tags need no server.
@Suite("PostgreSQL binding tags")
struct PostgresBindingTagTests {
    @Test("HMAC-SHA256 matches RFC 4231 test case 1")
    func hmacCase1() {
        let code = HMACSHA256.authenticationCode(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8))
        #expect(PostgresBindingSecret.hex(code) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test("HMAC-SHA256 matches RFC 4231 test case 2")
    func hmacCase2() {
        let code = HMACSHA256.authenticationCode(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(PostgresBindingSecret.hex(code) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("tag is minute, colon and HMAC")
    func tagShape() throws {
        let secret = try PostgresBindingSecret(bytes: Array(0..<32))
        let tag = secret.tag(tenant: "alpha-corp", minute: 29_940_315)
        let expected = PostgresBindingSecret.hex(HMACSHA256.authenticationCode(key: Array(0..<32), message: Array("alpha-corp:000029940315".utf8)))
        #expect(tag.count == 77)
        #expect(tag == "000029940315:" + expected)
    }

    @Test("cached tag matches a fresh one per minute")
    func cachedTag() throws {
        let secret = try PostgresBindingSecret(bytes: Array(0..<32))
        let copy = secret
        #expect(secret.cachedTag(tenant: "alpha-corp", minute: 10) == secret.tag(tenant: "alpha-corp", minute: 10))
        #expect(copy.cachedTag(tenant: "alpha-corp", minute: 10) == secret.tag(tenant: "alpha-corp", minute: 10))
        #expect(secret.cachedTag(tenant: "beta-corp", minute: 10) == secret.tag(tenant: "beta-corp", minute: 10))
        #expect(secret.cachedTag(tenant: "alpha-corp", minute: 11) == secret.tag(tenant: "alpha-corp", minute: 11))
        #expect(secret.cachedTag(tenant: "alpha-corp", minute: 10) == secret.tag(tenant: "alpha-corp", minute: 10))
    }

    @Test("secret is redacted and length-checked")
    func secretChecks() throws {
        let secret = PostgresBindingSecret.generate()
        #expect(secret.description == "PostgresBindingSecret(redacted)")
        #expect("\(secret)".contains(secret.hexEncoded) == false)
        #expect(try PostgresBindingSecret(hex: secret.hexEncoded).bytes == secret.bytes)
        #expect(throws: IsolationError.self) { try PostgresBindingSecret(bytes: Array(repeating: 1, count: 31)) }
        #expect(throws: IsolationError.self) { try PostgresBindingSecret(bytes: Array(repeating: 1, count: 65)) }
        #expect(throws: IsolationError.self) { try PostgresBindingSecret(hex: "zz" + String(repeating: "0", count: 62)) }
    }
}

@Suite("PostgreSQL row-level security", .enabled(if: PostgresTestServer.shouldRun, PostgresTestServer.skipMessage))
struct PostgresRowLevelSecurityTests {
    // MARK: - Pooled connections

    @Test("one connection for A, then B, then no tenant", arguments: RowLevelSecurityFixture.verifiedChecks)
    func pooledConnectionSequence(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let pidQuery: PostgresQuery = "SELECT pg_backend_pid() AS pid"
            let pidA = try await fixture.tenants.handle(forID: fixture.tenantA).query(pidQuery)[0].integer("pid")
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
            let unbound = try await fixture.tenants.queryWithoutTenant("SELECT id FROM \(unsafeSQL: fixture.items)")
            #expect(unbound.count == 0)
            let raw = try await fixture.pool.query("SELECT count(*) AS n FROM \(fixture.items)")[0].integer("n")
            #expect(raw == 0)
            let pidLast = try await fixture.tenants.handle(forID: fixture.tenantB).query(pidQuery)[0].integer("pid")
            #expect(pidA == pidLast)
        }
    }

    @Test("binding is prepared under a name tenant SQL cannot list", arguments: RowLevelSecurityFixture.verifiedChecks)
    func preparedBindingIsHidden(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
            for sql: PostgresQuery in ["SELECT name FROM pg_catalog.pg_prepared_statements", "SELECT name FROM pg_catalog.pg_prepared_statement()"] {
                let error = await #expect(throws: PostgresError.self) { try await asA.query(sql) }
                #expect(error?.code == .insufficientPrivilege)
            }
            // The pool's one connection prepared the binding and, with the PL/pgSQL check, the
            // statements of the session reset, each under "tenancy_" and 128 random bits in
            // hexadecimal.
            let names = try await fixture.pool.withCheckedOutConnection { connection in
                connection.box.preparedNames
            }
            let binding = PreparedKey(fixture.bindStatement(fixture.tenantA, tag: ""))
            let keys = [binding] + fixture.tenants.sessionResetStatements.map(PreparedKey.init)
            #expect(keys.count == (check == .library ? 1 : 1 + PostgresTenantDatabase.sessionReset().count))
            for key in keys {
                let name = names[key]
                #expect(name?.hasPrefix("tenancy_") == true, "\(key.sql)")
                #expect((name?.count ?? 0) >= 30)
            }
        }
    }

    @Test("tenant SQL cannot see or end other sessions or make large objects", arguments: RowLevelSecurityFixture.verifiedChecks)
    func sharedRoleFunctionsAreRevoked(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let statements: [PostgresQuery] = [
                "SELECT query FROM pg_catalog.pg_stat_activity",
                "SELECT pg_catalog.pg_stat_get_backend_activity(1)",
                "SELECT pg_catalog.pg_terminate_backend(pg_catalog.pg_backend_pid())",
                "SELECT pg_catalog.pg_cancel_backend(pg_catalog.pg_backend_pid())",
                "SELECT pg_catalog.lo_from_bytea(0, '\\x00')",
                "SELECT pg_catalog.lo_create(0)",
            ]
            for statement in statements {
                let error = await #expect(throws: PostgresError.self) { try await asA.query(statement) }
                #expect(error?.code == .insufficientPrivilege, "\(statement)")
            }
        }
    }

    @Test("DEALLOCATE ALL by A's SQL leaves B's next statement bound to B", arguments: RowLevelSecurityFixture.verifiedChecks)
    func deallocatedBindingIsPreparedAgain(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            let itemsAndPID: PostgresQuery = "SELECT id, pg_backend_pid() AS pid FROM \(unsafeSQL: fixture.items) ORDER BY id"

            // After a single statement the PL/pgSQL check's session reset needs its prepared
            // statements too, so it fails and the pool replaces the connection. The C check
            // sends no reset, so the connection stays and B's binding is prepared again on it.
            let pidA = try await asA.query("SELECT pg_backend_pid() AS pid")[0].integer("pid")
            try await asA.execute("DEALLOCATE ALL")
            let replaced = try await asB.query(itemsAndPID)
            #expect(try replaced.map { try $0.text("id") } == ["b1"])
            if check == .library {
                #expect(try replaced[0].integer("pid") == pidA)
            } else {
                #expect(try replaced[0].integer("pid") != pidA)
            }

            // After a transaction the reset runs without them and keeps the connection. B's
            // next statement finds its binding gone before anything ran, and the pool sends it
            // again, prepared anew (on a new connection, because the reset failed too).
            try await asA.transaction { transaction in
                try transaction.execute("DEALLOCATE ALL")
            }
            let rows = try await asB.query(itemsAndPID)
            #expect(try rows.map { try $0.text("id") } == ["b1"])
            #expect(fixture.pool.openConnections == 1)
            // A statement naming a prepared statement that does not exist still fails once
            // resent, and changes nothing.
            let error = await #expect(throws: PostgresError.self) {
                try await asB.execute("EXECUTE tenancy_guess")
            }
            #expect(error?.code == .invalidSQLStatementName)
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
        }
    }

    @Test("failed transaction of A leaves no tenant behind", arguments: RowLevelSecurityFixture.verifiedChecks)
    func failedTransaction(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let items = fixture.items
            let tenantA = fixture.tenantA
            await #expect(throws: PostgresError.self) {
                try await fixture.tenants.handle(forID: tenantA).transaction { transaction in
                    try transaction.execute("INSERT INTO \(unsafeSQL: items) (tenant_id, id) VALUES (\(tenantA), 'a3')")
                    try transaction.execute("SELECT 1 / 0")
                }
            }
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
            #expect(try await fixture.tenants.queryWithoutTenant("SELECT id FROM \(unsafeSQL: items)").count == 0)
            #expect(try await fixture.pool.query("SELECT count(*) AS n FROM \(items)")[0].integer("n") == 0)
            #expect(try await fixture.itemIDs(as: tenantA) == ["a1", "a2"])
        }
    }

    /// A temporary table outlives the statement that created it and comes first in every
    /// session's `search_path`, so on a pooled connection it would catch the next tenant's
    /// statements that name the real table without its schema.
    @Test("temporary table of A cannot catch B's rows", arguments: RowLevelSecurityFixture.verifiedChecks)
    func temporaryTableShadow(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let owner = try await PostgresTestServer.owner()
            let table = "rls_shadow_" + String(UUID().uuidString.prefix(8).lowercased())
            try await owner.execute("CREATE TABLE public.\(table) (tenant_id text NOT NULL, id text NOT NULL, PRIMARY KEY (tenant_id, id))")
            try await fixture.rls.protect(table: table, schema: "public", owner: owner, applicationRole: fixture.pool.configuration.user)
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)

            await #expect(throws: PostgresError.self) {
                try await asA.execute("CREATE TEMPORARY TABLE \(unsafeSQL: table) (tenant_id text, id text)")
            }
            // B names the table the way application code does, without its schema.
            try await asB.execute("INSERT INTO \(unsafeSQL: table) (tenant_id, id) VALUES (\(fixture.tenantB), 'b-private')")

            let capturedByA = try await asA.query("SELECT id FROM \(unsafeSQL: table)").map { try $0.text("id") }
            let storedForB = try await asB.query("SELECT id FROM public.\(unsafeSQL: table)").map { try $0.text("id") }
            try await owner.execute("DROP TABLE public.\(table)")
            #expect(capturedByA == [])
            #expect(storedForB == ["b-private"])
        }
    }

    @Test("transaction sees its tenant's rows and commits", arguments: RowLevelSecurityFixture.verifiedChecks)
    func transactionCommits(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let items = fixture.items
            let tenantA = fixture.tenantA
            let seen = try await fixture.tenants.handle(forID: tenantA).transaction { transaction in
                try transaction.execute("INSERT INTO \(unsafeSQL: items) (tenant_id, id) VALUES (\(tenantA), 'a3')")
                return try transaction.query("SELECT id FROM \(unsafeSQL: items) ORDER BY id").map { try $0.text("id") }
            }
            #expect(seen == ["a1", "a2", "a3"])
            #expect(try await fixture.itemIDs(as: tenantA) == ["a1", "a2", "a3"])
        }
    }

    // MARK: - Forged bindings

    @Test("set_config naming B before the read sees none of B", arguments: RowLevelSecurityFixture.verifiedChecks)
    func forgedBeforeRead(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let items = fixture.items
            let tenantB = fixture.tenantB
            let counts = try await fixture.tenants.handle(forID: fixture.tenantA).transaction { transaction in
                _ = try transaction.query("SELECT set_config('tenancy.tenant_id', \(tenantB.rawValue), true)")
                // Read without the handle, which would bind A again.
                return (
                    try transaction.queryWithoutRebinding("SELECT count(*) AS n FROM \(unsafeSQL: items) WHERE tenant_id = \(tenantB)")[0].integer("n"),
                    try transaction.queryWithoutRebinding("SELECT current_setting('tenancy.tenant_id') AS bound")[0].text("bound")
                )
            }
            #expect(counts.1 == tenantB.rawValue)
            #expect(counts.0 == 0)

            // The C check's equivalent: calling bind_tenant with B's id, without B's tag.
            guard check == .library else { return }
            let bindTenant = fixture.bindTenantSQL
            let forged = "000000000000:" + String(repeating: "0", count: 64)
            let error = await #expect(throws: PostgresError.self) {
                _ = try await fixture.tenants.handle(forID: fixture.tenantA).transaction { transaction in
                    _ = try transaction.query(PostgresQuery(unsafeSQL: bindTenant, arguments: [.text(tenantB.rawValue), .text(forged)]))
                    return try transaction.queryWithoutRebinding("SELECT count(*) AS n FROM \(unsafeSQL: items) WHERE tenant_id = \(tenantB)")[0].integer("n")
                }
            }
            #expect(error?.code == .invalidAuthorizationSpecification)
        }
    }

    @Test("set_config naming B inside the read sees none of B", arguments: RowLevelSecurityFixture.verifiedChecks)
    func forgedInsideRead(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let rows = try await fixture.tenants.handle(forID: fixture.tenantA).query("""
                SELECT set_config('tenancy.tenant_id', \(fixture.tenantB.rawValue), true) AS bound,
                    (SELECT count(*) FROM \(unsafeSQL: fixture.items)) AS seen
                """)
            // The PL/pgSQL check then finds no tenant, and the C check keeps A bound.
            #expect(try rows[0].integer("seen") == (check == .library ? 2 : 0))
            let filtered = try await fixture.tenants.handle(forID: fixture.tenantA).query("""
                SELECT id FROM \(unsafeSQL: fixture.items) WHERE set_config('tenancy.tenant_id', \(fixture.tenantB.rawValue), true) IS NOT NULL ORDER BY id
                """).map { try $0.text("id") }
            #expect(filtered == ["a1", "a2"])
        }
    }

    @Test("SET naming B sees none of B", arguments: RowLevelSecurityFixture.verifiedChecks)
    func forgedWithSet(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            try await fixture.tenants.handle(forID: fixture.tenantA).execute("SET tenancy.tenant_id = \(unsafeSQL: "'\(fixture.tenantB.rawValue)'")")
            // The session reset after A's statement removed the setting.
            let session = try await fixture.pool.query("SELECT current_setting('tenancy.tenant_id', true) AS bound")[0].optionalText("bound")
            #expect(session == "")
            #expect(try await fixture.pool.query("SELECT count(*) AS n FROM \(fixture.items)")[0].integer("n") == 0)
            let items = fixture.items
            let local = try await fixture.tenants.handle(forID: fixture.tenantA).transaction { transaction in
                try transaction.execute("SET LOCAL tenancy.tenant_id = \(unsafeSQL: "'\(fixture.tenantB.rawValue)'")")
                return try transaction.queryWithoutRebinding("SELECT count(*) AS n FROM \(unsafeSQL: items)")[0].integer("n")
            }
            // The PL/pgSQL check then finds no tenant, and the C check keeps A bound.
            #expect(local == (check == .library ? 2 : 0))
        }
    }

    @Test("RESET ALL and DISCARD ALL bind no tenant", arguments: RowLevelSecurityFixture.verifiedChecks)
    func resetAndDiscard(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let items = fixture.items
            let afterReset = try await fixture.tenants.handle(forID: fixture.tenantA).transaction { transaction in
                try transaction.execute("RESET ALL")
                return try transaction.queryWithoutRebinding("SELECT count(*) AS n FROM \(unsafeSQL: items)")[0].integer("n")
            }
            // The PL/pgSQL check then finds no tenant, and the C check keeps A bound.
            #expect(afterReset == (check == .library ? 2 : 0))
            try await fixture.pool.execute("DISCARD ALL")
            #expect(try await fixture.pool.query("SELECT count(*) AS n FROM \(items)")[0].integer("n") == 0)
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
        }
    }

    @Test("A's tag with B's id sees nothing", arguments: RowLevelSecurityFixture.verifiedChecks)
    func tagOfAnotherTenant(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let minute = try await fixture.serverMinute()
            let tagA = fixture.secret.tag(tenant: fixture.tenantA.rawValue, minute: minute)
            let statements = [fixture.bindStatement(fixture.tenantB, tag: tagA), PostgresStatement("SELECT count(*) AS n FROM \(fixture.items)")]
            // The PL/pgSQL check returns no tenant, and bind_tenant raises an error.
            if check == .library {
                let error = await #expect(throws: PostgresError.self) { try await fixture.pool.pipeline(statements) }
                #expect(error?.code == .invalidAuthorizationSpecification)
            } else {
                #expect(try await fixture.pool.pipeline(statements)[1].rows[0].integer("n") == 0)
            }
        }
    }

    // PL/pgSQL only: it copies the settings binding, and the C check keeps no binding in settings.
    @Test("session copy of A's binding is not used by later statements")
    func sessionCopyIgnored() async throws {
        try await RowLevelSecurityFixture.with(poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            try await fixture.tenants.handle(forID: fixture.tenantA).execute("""
                SELECT set_config('tenancy.tenant_id', current_setting('tenancy.tenant_id'), false), set_config('tenancy.tag', current_setting('tenancy.tag'), false)
                """)
            #expect(try await fixture.tenants.queryWithoutTenant("SELECT id FROM \(unsafeSQL: fixture.items)").count == 0)
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
        }
    }

    // PL/pgSQL only: it copies the settings binding, and the C check keeps no binding in settings.
    @Test("session copy of a binding binds no later transaction")
    func sessionCopyIgnoredWithoutBinding() async throws {
        try await RowLevelSecurityFixture.with(poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            // Code that uses the pool directly, with no session reset after it, binds A and
            // copies the binding into the session.
            let minute = try await fixture.serverMinute()
            _ = try await fixture.pool.pipeline([
                fixture.bindStatement(fixture.tenantA, minute: minute),
                PostgresStatement("""
                    SELECT set_config('tenancy.tenant_id', current_setting('tenancy.tenant_id'), false), \
                    set_config('tenancy.tag', current_setting('tenancy.tag'), false), \
                    set_config('tenancy.bound_at', current_setting('tenancy.bound_at'), false)
                    """),
            ])
            // The copy is in the session, where code that uses the pool without a binding reads it.
            let copied = try await fixture.pool.query("SELECT current_setting('tenancy.tenant_id', true) AS tenant")
            #expect(try copied[0].optionalText("tenant") == fixture.tenantA.rawValue)
            // Its statements run in a later transaction, so the check returns no tenant.
            #expect(try await fixture.pool.query("SELECT id FROM \(fixture.items)").count == 0)
            #expect(try await fixture.pool.query("SELECT \(fixture.rls.quotedSchema).current_tenant() AS tenant")[0].optionalText("tenant") == nil)
        }
    }

    /// Statements of A that change the pooled session beyond their transaction: settings,
    /// a copy of A's binding, and an advisory lock on a key of this test. The last one takes a
    /// lock and then fails, because a session-level advisory lock survives the rollback.
    static let sessionChanges: [PostgresQuery] = [
        "SELECT pg_catalog.set_config('extra_float_digits', '-15', false)",
        "SELECT pg_catalog.set_config('search_path', 'pg_catalog', false)",
        "SET client_encoding = 'LATIN1'",
        // missing_ok, because with the C check neither setting may exist on the session.
        "SELECT pg_catalog.set_config('tenancy.tenant_id', pg_catalog.current_setting('tenancy.tenant_id', true), false), pg_catalog.set_config('tenancy.tag', pg_catalog.current_setting('tenancy.tag', true), false)",
        "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtextextended('tenancy.test.tenant-session', 0))",
        // `1 / (g - 1)`, unlike `1 / 0`, fails when the row is computed, after the lock.
        "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtextextended('tenancy.test.tenant-session', 1)), 1 / (g - 1) FROM pg_catalog.generate_series(1, 1) AS g",
    ]

    /// Returns the settings and the number of advisory locks that a statement of `tenant` meets.
    static func sessionState(_ fixture: RowLevelSecurityFixture, as tenant: TenantID) async throws -> [String] {
        let row = try await fixture.tenants.handle(forID: tenant).query("""
            SELECT pg_catalog.current_setting('extra_float_digits') AS float_digits,
                pg_catalog.current_setting('search_path') AS search_path,
                pg_catalog.current_setting('client_encoding') AS encoding,
                (SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()) AS advisory_locks
            """)[0]
        return [
            try row.text("float_digits"), try row.text("search_path"), try row.text("encoding"),
            String(try row.integer("advisory_locks")),
        ]
    }

    static let cleanSession = ["1", "\"$user\", public", "UTF8", "0"]

    @Test("A's session changes do not reach B", arguments: RowLevelSecurityFixture.verifiedChecks)
    func sessionChangesAreReset(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let asB = fixture.tenants.handle(forID: fixture.tenantB)
            let pid = try await asA.query("SELECT pg_catalog.pg_backend_pid() AS pid")[0].integer("pid")
            for change in Self.sessionChanges {
                _ = try? await asA.execute(change)
            }

            #expect(try await Self.sessionState(fixture, as: fixture.tenantB) == Self.cleanSession)
            // The pool's other users, which bind no tenant, meet a clean session too, without
            // the copy of A's binding that would show them A's rows.
            #expect(try await fixture.pool.query("SHOW extra_float_digits")[0].text("extra_float_digits") == "1")
            #expect(try await fixture.pool.query("SELECT count(*) AS n FROM \(fixture.items)")[0].integer("n") == 0)

            // B's text arrives as B sent it.
            try await asB.execute("INSERT INTO \(unsafeSQL: fixture.notes) (tenant_id, id, body) VALUES (\(fixture.tenantB), 3, \("café"))")
            let stored = try await PostgresTestServer.admin().query(
                "SELECT body, octet_length(body) AS bytes FROM \(fixture.notes) WHERE tenant_id = $1 AND id = 3", [.text(fixture.tenantB.rawValue)])
            #expect(try stored[0].text("body") == "café")
            #expect(try stored[0].integer("bytes") == 5)

            // The same connection served everyone: it was reset, not replaced.
            #expect(try await asB.query("SELECT pg_catalog.pg_backend_pid() AS pid")[0].integer("pid") == pid)
        }
    }

    // PL/pgSQL only: the C check rejects LISTEN in a tenant transaction (PostgresBindingLibraryCommandTests).
    @Test("notifications for A's LISTEN do not pile up")
    func notificationsAreFreed() async throws {
        try await RowLevelSecurityFixture.with(poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            // The session reset leaves LISTEN, so A's own notifications reach the client.
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            try await asA.execute("LISTEN tenant_probe")
            for _ in 0..<3 {
                _ = try await asA.query("SELECT pg_catalog.pg_notify('tenant_probe', g::text) FROM pg_catalog.generate_series(1, 200) AS g")
            }
            _ = try await fixture.tenants.handle(forID: fixture.tenantB).query("SELECT 1")

            // libpq keeps each notification until PQnotifies returns it, and the library
            // never reads them, so the pool must free them.
            let queued = try await fixture.pool.withCheckedOutConnection { connection in
                var count = 0
                while let notification = PQnotifies(connection.box.handle) {
                    count += 1
                    PQfreemem(notification)
                }
                return count
            }
            #expect(queued == 0)
        }
    }

    @Test("A's session changes in a transaction do not reach B", arguments: RowLevelSecurityFixture.verifiedChecks)
    func transactionSessionChangesAreReset(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let changes = Self.sessionChanges.dropLast()
            try await asA.transaction { transaction in
                for change in changes {
                    try transaction.execute(change)
                }
            }
            #expect(try await Self.sessionState(fixture, as: fixture.tenantB) == Self.cleanSession)

            // A transaction that fails after taking a session lock leaves none behind either.
            await #expect(throws: PostgresError.self) {
                try await asA.transaction { transaction in
                    try transaction.execute(Self.sessionChanges.last!)
                }
            }
            #expect(try await Self.sessionState(fixture, as: fixture.tenantB) == Self.cleanSession)
        }
    }

    @Test("tags are accepted one minute off and rejected three off", arguments: RowLevelSecurityFixture.verifiedChecks)
    func minuteWindow(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let count = PostgresStatement("SELECT count(*) AS n FROM \(fixture.items)")
            // The row count B reads, or -1 when bind_tenant rejects the tag with SQLSTATE 28000.
            var seen: [Int64: Int64] = [:]
            // A minute boundary between reading the server's minute and the probes would shift
            // the offsets, so read it again afterwards and retry once when it moved.
            for _ in 0..<2 {
                let minute = try await fixture.serverMinute()
                for offset: Int64 in [-3, -1, 0, 1, 3] {
                    do {
                        seen[offset] = try await fixture.pool.pipeline([fixture.bindStatement(fixture.tenantB, minute: minute + offset), count])[1].rows[0].integer("n")
                    } catch let error as PostgresError where error.code == .invalidAuthorizationSpecification {
                        seen[offset] = -1
                    }
                }
                if try await fixture.serverMinute() == minute { break }
            }
            let rejected: Int64 = check == .library ? -1 : 0
            #expect(seen[-3] == rejected)
            #expect(seen[-1] == 1)
            #expect(seen[0] == 1)
            #expect(seen[1] == 1)
            #expect(seen[3] == rejected)
        }
    }

    // MARK: - No tenant and writes

    @Test("no tenant and empty binding read zero rows", arguments: RowLevelSecurityFixture.verifiedChecks)
    func noTenantReadsNothing(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let fresh = try PostgresDatabase(url: try PostgresTestServer.urls().application, maximumConnections: 1)
            let neverBound = try await fresh.query("SELECT count(*) AS n FROM \(fixture.items)")[0].integer("n")
            await fresh.close()
            #expect(neverBound == 0)
            let empty = try await fixture.pool.pipeline([
                PostgresStatement(fixture.tenants.bindSQL, [.text(""), .text("")] + (fixture.tenants.endsAfterMilliseconds.map { [.integer($0)] } ?? [])),
                PostgresStatement("SELECT count(*) AS n FROM \(fixture.items)"),
            ])
            #expect(try empty[1].rows[0].integer("n") == 0)
            let error = await #expect(throws: PostgresError.self) {
                _ = try await fixture.tenants.queryWithoutTenant("INSERT INTO \(unsafeSQL: fixture.items) (tenant_id, id) VALUES ('beta-corp', 'x1')")
            }
            #expect(error?.code == .insufficientPrivilege)
        }
    }

    @Test("re-homing and inserting for B are rejected by WITH CHECK", arguments: RowLevelSecurityFixture.verifiedChecks)
    func withCheckRejects(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let rehome = await #expect(throws: PostgresError.self) {
                try await asA.execute("UPDATE \(unsafeSQL: fixture.items) SET tenant_id = \(fixture.tenantB) WHERE id = 'a1'")
            }
            #expect(rehome?.code == .insufficientPrivilege)
            #expect(rehome?.message.hasPrefix("row-level security rejected the row") == true)
            #expect(rehome?.description.contains(fixture.tenantB.rawValue) == false)
            let insert = await #expect(throws: PostgresError.self) {
                try await asA.execute("INSERT INTO \(unsafeSQL: fixture.items) (tenant_id, id) VALUES (\(fixture.tenantB), 'b9')")
            }
            #expect(insert?.code == .insufficientPrivilege)
            #expect(try await asA.execute("UPDATE \(unsafeSQL: fixture.items) SET note = 'changed'") == 2)
            #expect(try await asA.execute("DELETE FROM \(unsafeSQL: fixture.items) WHERE id = 'b1'") == 0)
            let bRows = try await fixture.tenants.handle(forID: fixture.tenantB).query("SELECT id, note FROM \(unsafeSQL: fixture.items)")
            #expect(bRows.count == 1)
            #expect(try bRows.first?.text("note") == "original")
        }
    }

    // MARK: - Binding modes and keys

    // PL/pgSQL only: the C check plans no expression that contains the key.
    @Test("the check never prints its plan, which holds the key")
    func checkSuppressesPlanDumps() async throws {
        try await RowLevelSecurityFixture.with { (fixture: RowLevelSecurityFixture) async throws in
            let rows = try await fixture.pool.query(
                """
                SELECT pg_catalog.array_to_string(p.proconfig, ',') AS config FROM pg_catalog.pg_proc AS p
                JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
                WHERE n.nspname = $1 AND p.proname = 'current_tenant'
                """, [.text(fixture.rls.schema)])
            #expect(rows.count == 1)
            #expect(try rows.first?.text("config") == "debug_print_plan=off")
        }
    }

    // PL/pgSQL only: the C check raises an error for old tags, which PostgresBindingLibraryTests checks.
    @Test("new secret stops old tags on the same session")
    func rotation() async throws {
        try await RowLevelSecurityFixture.with(poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
            let newSecret = PostgresBindingSecret.generate()
            try await fixture.rls.install(owner: try await PostgresTestServer.owner(), applicationRole: fixture.pool.configuration.user, binding: .verified(newSecret))
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == [])
            let rotated = PostgresTenantHandle(
                tenantID: fixture.tenantA, database: fixture.pool, bindingStatement: PostgresBindingStatement(binding: .verified(newSecret)))
            let ids = try await rotated.query("SELECT id FROM \(unsafeSQL: fixture.items) ORDER BY id").map { try $0.text("id") }
            #expect(ids == ["a1", "a2"])
        }
    }

    @Test("start-up rejects a different secret", arguments: RowLevelSecurityFixture.verifiedChecks)
    func wrongSecret(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let error = await #expect(throws: IsolationError.self) {
                _ = try await PostgresTenantDatabase(fixture.pool, binding: .verified(.generate()), rowLevelSecurity: fixture.rls)
            }
            #expect(error?.code == .bindingMismatch)
        }
    }

    @Test("start-up rejects trusted binding on verified database", arguments: RowLevelSecurityFixture.verifiedChecks)
    func trustedOnVerified(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let error = await #expect(throws: IsolationError.self) {
                _ = try await PostgresTenantDatabase(fixture.pool, binding: .trusted, rowLevelSecurity: fixture.rls)
            }
            #expect(error?.code == .bindingMismatch)
        }
    }

    @Test("trusted binding reads own rows only")
    func trustedBinding() async throws {
        try await RowLevelSecurityFixture.with(trusted: true) { (fixture: RowLevelSecurityFixture) async throws in
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
            #expect(try await fixture.tenants.queryWithoutTenant("SELECT id FROM \(unsafeSQL: fixture.items)").count == 0)
            let error = await #expect(throws: IsolationError.self) {
                _ = try await PostgresTenantDatabase(fixture.pool, binding: .verified(.generate()), rowLevelSecurity: fixture.rls)
            }
            #expect(error?.code == .bindingMismatch)
        }
    }

    @Test("trusted binding skips the session reset")
    func trustedBindingKeepsSession() async throws {
        try await RowLevelSecurityFixture.with(trusted: true, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            #expect(fixture.tenants.sessionResetStatements.isEmpty)
            try await fixture.tenants.handle(forID: fixture.tenantA).execute("SELECT pg_catalog.set_config('extra_float_digits', '-15', false)")
            let state = try await Self.sessionState(fixture, as: fixture.tenantB)
            #expect(state.first == "-15")
        }
    }

    @Test("application role cannot read the key", arguments: RowLevelSecurityFixture.verifiedChecks)
    func keyIsPrivate(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            for sql in ["SELECT key FROM \(fixture.rls.quotedSchema).binding_secret", "SELECT \(fixture.rls.quotedSchema).binding_inner_key()"] {
                let error = await #expect(throws: PostgresError.self) { _ = try await fixture.pool.query(sql) }
                #expect(error?.code == .insufficientPrivilege)
            }
        }
    }

    @Test("enforcer hands out PostgreSQL handles", arguments: RowLevelSecurityFixture.verifiedChecks)
    func enforcer(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let enforcer = try TenantIsolationEnforcer(TenantDataIsolation(isolateFileStorage: false), database: fixture.tenants)
            let tenant = Tenant(id: fixture.tenantB, name: "Beta", tier: .starter)
            let ids = try await TenantContext.withTenant(tenant) { _ in
                try await enforcer.requireTenantScope { scope in
                    try await scope.database.query("SELECT id FROM \(unsafeSQL: fixture.items)").map { try $0.text("id") }
                }
            }
            #expect(ids == ["b1"])
        }
    }

    // MARK: - Purge

    @Test("purge removes one tenant's rows only", arguments: RowLevelSecurityFixture.verifiedChecks)
    func purge(check: PostgresBindingCheck) async throws {
        try await RowLevelSecurityFixture.with(check: check) { (fixture: RowLevelSecurityFixture) async throws in
            let removed = try await PostgresTenantRowsPurger(fixture.tenants).purge(fixture.tenantA)
            #expect(removed == 3)
            #expect(try await fixture.rowCount(of: fixture.tenantA, in: fixture.items) == 0)
            #expect(try await fixture.rowCount(of: fixture.tenantA, in: fixture.notes) == 0)
            #expect(try await fixture.rowCount(of: fixture.tenantB, in: fixture.items) == 1)
            #expect(try await fixture.rowCount(of: fixture.tenantB, in: fixture.notes) == 2)
        }
    }
}
