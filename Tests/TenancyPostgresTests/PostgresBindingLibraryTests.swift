import Foundation
import Tenancy
import Testing
@testable import TenancyPostgres

/// The C binding check of the `tenancy_binding` library.
@Suite("PostgreSQL binding library", .serialized)
struct PostgresBindingLibraryTests {
    @Test("each tenant reads only its own rows through the C check")
    func isolation() async throws {
        try await RowLevelSecurityFixture.with(check: .library) { (fixture: RowLevelSecurityFixture) async throws in
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
            #expect(try await fixture.tenants.queryWithoutTenant("SELECT id FROM \(unsafeSQL: fixture.items)").count == 0)
        }
    }

    // MARK: - Forged calls to bind_tenant

    /// A tag that `bind_tenant` must reject for B's id, and the start of the error message it raises.
    struct RejectedTag {
        let name: String
        let tag: String
        let message: String
    }

    static let doesNotVerify = "tenancy binding: the tag does not verify under the stored binding secret"
    static let malformed = "tenancy binding: malformed tag"

    /// Returns the tags that tenant SQL could try for B's id in `minute` without B's secret.
    static func rejectedTags(_ fixture: RowLevelSecurityFixture, minute: Int64) -> [RejectedTag] {
        let valid = fixture.secret.tag(tenant: fixture.tenantB.rawValue, minute: minute)
        let minuteDigits = String(valid.prefix(12))
        return [
            RejectedTag(name: "forged code", tag: minuteDigits + ":" + String(repeating: "a", count: 64), message: doesNotVerify),
            RejectedTag(name: "A's tag", tag: fixture.secret.tag(tenant: fixture.tenantA.rawValue, minute: minute), message: doesNotVerify),
            RejectedTag(name: "uppercase code", tag: valid.uppercased(), message: doesNotVerify),
            RejectedTag(
                name: "B's tag 5 minutes early", tag: fixture.secret.tag(tenant: fixture.tenantB.rawValue, minute: minute - 5),
                message: "tenancy binding: the tag's minute \(minute - 5) is more than one minute from the server's"),
            RejectedTag(
                name: "B's tag 5 minutes late", tag: fixture.secret.tag(tenant: fixture.tenantB.rawValue, minute: minute + 5),
                message: "tenancy binding: the tag's minute \(minute + 5) is more than one minute from the server's"),
            RejectedTag(name: "one character short", tag: String(valid.dropLast()), message: malformed),
            RejectedTag(name: "one character long", tag: valid + "0", message: malformed),
            RejectedTag(name: "empty", tag: "", message: malformed),
            RejectedTag(name: "no colon", tag: minuteDigits + "0" + valid.dropFirst(13), message: malformed),
            RejectedTag(name: "letters in the minute", tag: "abcdefghijkl" + valid.dropFirst(12), message: malformed),
            // 38 two-byte characters and one more byte: 77 bytes, as long as a tag.
            RejectedTag(name: "multibyte garbage", tag: String(repeating: "é", count: 38) + "x", message: malformed),
            RejectedTag(name: "punctuation", tag: String(repeating: "~", count: 12) + ":" + String(repeating: "!", count: 64), message: malformed),
        ]
    }

    @Test("tenant SQL calling bind_tenant for B is rejected")
    func forgedBindTenant() async throws {
        try await RowLevelSecurityFixture.with(check: .library) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let bindTenant = fixture.bindTenantSQL
            let minute = try await fixture.serverMinute()
            for rejected in Self.rejectedTags(fixture, minute: minute) {
                let arguments: [PostgresValue] = [.text(fixture.tenantB.rawValue), .text(rejected.tag)]
                let call = await #expect(throws: PostgresError.self, "\(rejected.name)") {
                    _ = try await asA.query(PostgresQuery(unsafeSQL: bindTenant, arguments: arguments))
                }
                #expect(call?.code == .invalidAuthorizationSpecification, "\(rejected.name)")
                #expect(call?.serverMessage?.hasPrefix(rejected.message) == true, "\(rejected.name): \(call?.serverMessage ?? "no message")")

                // The same call inside a read of B's rows fails the whole statement. As a
                // sub-select it is a one-time filter, which runs before the scan.
                let read = await #expect(throws: PostgresError.self, "\(rejected.name)") {
                    _ = try await asA.query(PostgresQuery(
                        unsafeSQL: "SELECT b.id FROM \(fixture.items) AS b WHERE (\(bindTenant)) IS NOT NULL AND b.tenant_id = $1", arguments: arguments))
                }
                #expect(read?.code == .invalidAuthorizationSpecification, "\(rejected.name)")
            }
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
        }
    }

    @Test("set_config naming B inside A's statement reads none of B")
    func setConfigInsideStatement() async throws {
        try await RowLevelSecurityFixture.with(check: .library) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let tenantB = fixture.tenantB.rawValue
            for isLocal in [true, false] {
                let row = try await asA.query("""
                    SELECT pg_catalog.set_config('tenancy.tenant_id', \(tenantB), \(isLocal)) AS forged,
                        \(unsafeSQL: fixture.rls.quotedSchema).current_tenant() AS tenant,
                        (SELECT count(*) FROM \(unsafeSQL: fixture.items) WHERE tenant_id = \(tenantB)) AS seen_of_b,
                        (SELECT count(*) FROM \(unsafeSQL: fixture.items)) AS seen
                    """)[0]
                #expect(try row.text("forged") == tenantB)
                #expect(try row.optionalText("tenant") == fixture.tenantA.rawValue)
                #expect(try row.integer("seen_of_b") == 0)
                #expect(try row.integer("seen") == 2)
            }
            let filtered = try await asA.query("""
                SELECT id FROM \(unsafeSQL: fixture.items) WHERE pg_catalog.set_config('tenancy.tenant_id', \(tenantB), true) IS NOT NULL ORDER BY id
                """).map { try $0.text("id") }
            #expect(filtered == ["a1", "a2"])
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
        }
    }

    // MARK: - Session reset at the end of the transaction

    /// The settings, role, advisory lock count and backend of the session a statement meets.
    struct SessionState: Equatable, CustomStringConvertible {
        var encoding: String
        var searchPath: String
        var role: String
        var advisoryLocks: Int64
        var pid: Int64

        var description: String { "\(encoding), \(searchPath), role \(role), \(advisoryLocks) advisory locks, pid \(pid)" }
    }

    static let stateSQL = """
        SELECT pg_catalog.current_setting('client_encoding') AS encoding, pg_catalog.current_setting('search_path') AS search_path,
            pg_catalog.current_setting('role') AS role,
            (SELECT pg_catalog.count(*) FROM pg_catalog.pg_locks WHERE locktype OPERATOR(pg_catalog.=) 'advisory'
                AND pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()) AS advisory_locks,
            pg_catalog.pg_backend_pid() AS pid
        """

    static func sessionState(_ row: PostgresRow) throws -> SessionState {
        SessionState(
            encoding: try row.text("encoding"), searchPath: try row.text("search_path"), role: try row.text("role"),
            advisoryLocks: try row.integer("advisory_locks"), pid: try row.integer("pid"))
    }

    /// Returns the session state that a statement of `tenant` meets.
    static func sessionState(_ fixture: RowLevelSecurityFixture, as tenant: TenantID) async throws -> SessionState {
        try sessionState(try await fixture.tenants.handle(forID: tenant).query(PostgresQuery(unsafeSQL: stateSQL))[0])
    }

    static func cleanSession(pid: Int64) -> SessionState {
        SessionState(encoding: "UTF8", searchPath: "\"$user\", public", role: "none", advisoryLocks: 0, pid: pid)
    }

    @Test("commit resets A's session changes before B")
    func sessionResetAtCommit() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let role = fixture.pool.configuration.user
            let pid = try await Self.sessionState(fixture, as: fixture.tenantA).pid

            // SET ROLE to the application role itself needs no other role and still shows in
            // the role setting.
            let changed = try await asA.query("""
                SELECT pg_catalog.set_config('client_encoding', 'LATIN1', false) AS encoding,
                    pg_catalog.set_config('search_path', 'pg_catalog', false) AS search_path,
                    pg_catalog.set_config('role', \(role), false) AS role,
                    pg_catalog.pg_advisory_lock(4242) IS NOT NULL AS locked,
                    (SELECT pg_catalog.count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()) AS advisory_locks
                """)[0]
            #expect(try changed.text("encoding") == "LATIN1")
            #expect(try changed.text("search_path") == "pg_catalog")
            #expect(try changed.text("role") == role)
            #expect(try changed.integer("advisory_locks") == 1)

            #expect(try await Self.sessionState(fixture, as: fixture.tenantB) == Self.cleanSession(pid: pid))
            #expect(try await fixture.itemIDs(as: fixture.tenantB) == ["b1"])
        }
    }

    @Test("abort releases A's session advisory lock before B")
    func sessionResetAtAbort() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let asA = fixture.tenants.handle(forID: fixture.tenantA)
            let pid = try await Self.sessionState(fixture, as: fixture.tenantA).pid

            // `1 / (g - 1)`, unlike `1 / 0`, fails when the row is computed, after the lock.
            let error = await #expect(throws: PostgresError.self) {
                _ = try await asA.query("""
                    SELECT pg_catalog.set_config('search_path', 'pg_catalog', false), pg_catalog.pg_advisory_lock(4243), 1 / (g - 1)
                    FROM pg_catalog.generate_series(1, 1) AS g
                    """)
            }
            #expect(error?.code?.rawValue == "22012")

            #expect(try await Self.sessionState(fixture, as: fixture.tenantB) == Self.cleanSession(pid: pid))
        }
    }

    @Test("binding ends with A's transaction")
    func bindingEndsWithTransaction() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let schema = fixture.rls.quotedSchema
            let bound = try await fixture.tenants.handle(forID: fixture.tenantA).query("""
                SELECT \(unsafeSQL: schema).current_tenant() AS tenant, pg_catalog.pg_backend_pid() AS pid,
                    (SELECT count(*) FROM \(unsafeSQL: fixture.items)) AS seen
                """)[0]
            #expect(try bound.optionalText("tenant") == fixture.tenantA.rawValue)
            #expect(try bound.integer("seen") == 2)

            // The next statement on the same connection binds no tenant.
            let unbound = try await fixture.pool.query("""
                SELECT \(schema).current_tenant() AS tenant, pg_catalog.pg_backend_pid() AS pid, (SELECT count(*) FROM \(fixture.items)) AS seen
                """)[0]
            #expect(try unbound.optionalText("tenant") == nil)
            #expect(try unbound.integer("seen") == 0)
            #expect(try unbound.integer("pid") == bound.integer("pid"))
            #expect(try await fixture.tenants.queryWithoutTenant("SELECT id FROM \(unsafeSQL: fixture.items)").count == 0)
        }
    }

    // MARK: - Keys, plans and transactions

    @Test("new secret stops old tags on the same session")
    func rotation() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            // The C check now remembers A's verified tag in this session.
            #expect(try await fixture.itemIDs(as: fixture.tenantA) == ["a1", "a2"])
            let newSecret = PostgresBindingSecret.generate()
            try await fixture.rls.install(owner: try await PostgresTestServer.owner(), applicationRole: fixture.pool.configuration.user, binding: .verified(newSecret))

            let error = await #expect(throws: PostgresError.self) { _ = try await fixture.itemIDs(as: fixture.tenantA) }
            #expect(error?.code == .invalidAuthorizationSpecification)
            #expect(error?.serverMessage == Self.doesNotVerify)
            let rotated = PostgresTenantHandle(
                tenantID: fixture.tenantA, database: fixture.pool,
                bindingStatement: PostgresBindingStatement(
                    binding: .verified(newSecret), sql: fixture.tenants.bindSQL, endsAfterMilliseconds: fixture.tenants.endsAfterMilliseconds))
            let ids = try await rotated.query("SELECT id FROM \(unsafeSQL: fixture.items) ORDER BY id").map { try $0.text("id") }
            #expect(ids == ["a1", "a2"])
        }
    }

    @Test("parallel plan returns exactly A's rows")
    func parallelPlan() async throws {
        try await RowLevelSecurityFixture.with(check: .library) { (fixture: RowLevelSecurityFixture) async throws in
            let items = fixture.items
            let tenantA = fixture.tenantA
            for tenant in [fixture.tenantA, fixture.tenantB] {
                let inserted = try await fixture.tenants.handle(forID: tenant).execute("""
                    INSERT INTO \(unsafeSQL: items) (tenant_id, id) SELECT \(tenant), 'p' || g FROM generate_series(1, 5000) AS g
                    """)
                #expect(inserted == 5000)
            }
            try await PostgresTestServer.owner().execute("ANALYZE \(items)")

            // Leader participation off, so the workers read every row.
            let parallel = """
                SELECT set_config('parallel_setup_cost', '0', true), set_config('parallel_tuple_cost', '0', true),
                    set_config('min_parallel_table_scan_size', '0', true), set_config('parallel_leader_participation', 'off', true)
                """
            let read = "SELECT count(*) AS n, count(*) FILTER (WHERE tenant_id <> '\(tenantA.rawValue)') AS foreign FROM \(items)"
            let (total, foreign) = try await fixture.tenants.handle(forID: tenantA).transaction { transaction in
                _ = try transaction.query(PostgresQuery(unsafeSQL: parallel))
                let row = try transaction.query(PostgresQuery(unsafeSQL: read))[0]
                return (try row.integer("n"), try row.integer("foreign"))
            }
            // The C check rejects EXPLAIN in a tenant transaction, so the owner shows the plan
            // that the same settings give the same statement. It binds no tenant, so it reads no rows.
            let plan = try await PostgresTestServer.owner().withConnection { connection in
                try connection.inTransaction {
                    _ = try connection.query(parallel)
                    return try connection.query("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + read).map { try $0.text("QUERY PLAN") }
                        .joined(separator: "\n")
                }
            }
            #expect(plan.contains("Parallel Seq Scan"), "\(plan)")
            #expect(!plan.contains("Workers Launched: 0"), "\(plan)")
            #expect(total == 5002)
            #expect(foreign == 0)
        }
    }

    @Test("transaction reads own rows and resets the session")
    func transactionWithLibrary() async throws {
        try await RowLevelSecurityFixture.with(check: .library, poolSize: 1) { (fixture: RowLevelSecurityFixture) async throws in
            let items = fixture.items
            let role = try PostgresIdentifier.quoted(fixture.pool.configuration.user)
            let pid = try await Self.sessionState(fixture, as: fixture.tenantB).pid
            let (ids, inside) = try await fixture.tenants.handle(forID: fixture.tenantA).transaction { transaction in
                try transaction.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog', false)")
                try transaction.execute("SELECT pg_catalog.set_config('client_encoding', 'LATIN1', false)")
                try transaction.execute("SELECT pg_catalog.pg_advisory_lock(4244)")
                try transaction.execute(PostgresQuery(unsafeSQL: "SET ROLE \(role)"))
                let ids = try transaction.query("SELECT id FROM \(unsafeSQL: items) ORDER BY id").map { try $0.text("id") }
                return (ids, try Self.sessionState(try transaction.query(PostgresQuery(unsafeSQL: Self.stateSQL))[0]))
            }
            #expect(ids == ["a1", "a2"])
            #expect(inside == SessionState(encoding: "LATIN1", searchPath: "pg_catalog", role: fixture.pool.configuration.user, advisoryLocks: 1, pid: pid))
            #expect(try await Self.sessionState(fixture, as: fixture.tenantB) == Self.cleanSession(pid: pid))
        }
    }

    @Test("start-up with a different secret names the C check's error")
    func wrongSecret() async throws {
        try await RowLevelSecurityFixture.with(check: .library) { (fixture: RowLevelSecurityFixture) async throws in
            let error = await #expect(throws: IsolationError.self) {
                _ = try await PostgresTenantDatabase(fixture.pool, binding: .verified(.generate()), rowLevelSecurity: fixture.rls)
            }
            #expect(error?.code == .bindingMismatch)
            #expect(error?.message.contains("tenancy binding:") == true, "\(error?.message ?? "no error")")
            #expect(error?.message.contains(Self.doesNotVerify) == true)
        }
    }
}
