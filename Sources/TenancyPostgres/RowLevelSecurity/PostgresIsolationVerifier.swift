import Foundation
public import Tenancy

/// Checks a pooled PostgreSQL database's isolation: the catalog of every protected table, the
/// application role, views and `SECURITY DEFINER` functions over tenant tables, and live
/// probes through the real binding.
///
/// The probes need the owner role's pool: it creates a protected scratch table in the
/// library's schema, the probes write and read it as two probe tenants through the
/// application role, and the owner drops it afterwards.
public struct PostgresIsolationVerifier: Sendable {
    let tenants: PostgresTenantDatabase
    let owner: PostgresDatabase
    /// The schemas searched for unprotected tables with a `tenant_id` column and for schemas
    /// where the application role may create objects; nil for every schema except the system
    /// ones.
    let schemas: [String]?

    public init(_ tenants: PostgresTenantDatabase, owner: PostgresDatabase, schemas: [String]? = nil) {
        self.tenants = tenants
        self.owner = owner
        self.schemas = schemas
    }

    /// Runs every check and returns the report; ``IsolationReport/passed`` is false on any
    /// finding or failed probe.
    public func verify() async throws -> IsolationReport {
        let protected = try await tenants.rowLevelSecurity.protectedTables(tenants.database)
        var probes: [IsolationReport.Probe] = []
        let expectedPolicy = try await withScratchTable { table, tenantA, tenantB in
            probes = try await liveProbes(table: table, tenantA: tenantA, tenantB: tenantB)
            return try await policyExpressions(of: table)
        }
        var (tables, findings) = try await catalog(protected, expectedPolicy: expectedPolicy)
        findings += try await roleFindings()
        findings += try await objectFindings(protected)
        probes += try await tableProbes(protected)
        findings.sort { ($0.subject, $0.message) < ($1.subject, $1.message) }
        tables.sort { $0.name < $1.name }
        return IsolationReport(tables: tables, findings: findings, probes: probes)
    }

    // MARK: - Catalog

    /// The deparsed `USING` and `WITH CHECK` expressions of the library's policy on a table.
    struct PolicyExpressions: Equatable {
        let using: String?
        let withCheck: String?
    }

    private func policyExpressions(of table: PostgresRowLevelSecurity.TableName) async throws -> PolicyExpressions? {
        let rows = try await tenants.database.query(
            """
            SELECT pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_clause, pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check_clause
            FROM pg_catalog.pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1) AND p.polname OPERATOR(pg_catalog.=) $2
            """, [.text(try table.qualified), .text(PostgresRowLevelSecurity.policyName)])
        return try rows.first.map { PolicyExpressions(using: try $0.optionalText("using_clause"), withCheck: try $0.optionalText("check_clause")) }
    }

    private func catalog(
        _ protected: [PostgresRowLevelSecurity.TableName], expectedPolicy: PolicyExpressions?
    ) async throws -> ([IsolationReport.Table], [IsolationReport.Finding]) {
        var tables: [IsolationReport.Table] = []
        var findings: [IsolationReport.Finding] = []
        for table in protected {
            let subject = table.description
            let rows = try await tenants.database.query(
                """
                SELECT c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
                    (SELECT pg_catalog.count(*) FROM pg_catalog.pg_index i WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisprimary) AS primary_keys,
                    (SELECT pg_catalog.string_agg(i.indexrelid::regclass::text, ', ') FROM pg_catalog.pg_index i
                     WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisunique
                       AND (SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.=) i.indkey[0])
                           IS DISTINCT FROM 'tenant_id') AS misordered_indexes,
                    (SELECT pg_catalog.string_agg(p.polname::text, ', ' ORDER BY p.polname) FROM pg_catalog.pg_policy p
                     WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid AND p.polpermissive AND p.polname OPERATOR(pg_catalog.<>) $2) AS other_policies
                FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)
                """, [.text(try table.qualified), .text(PostgresRowLevelSecurity.policyName)])
            guard let row = rows.first else {
                tables.append(.init(name: subject, filtered: false, writesConfined: false, keyLeadsWithTenantID: false))
                findings.append(.init(subject: subject, message: "the protected table \(subject) no longer exists; remove it from the list or create it and run protect again"))
                continue
            }
            let enabled = try row.boolean("enabled")
            let forced = try row.boolean("forced")
            let policy = try await policyExpressions(of: table)
            let usingIntact = policy?.using != nil && policy?.using == expectedPolicy?.using
            let checkIntact = policy?.withCheck != nil && policy?.withCheck == expectedPolicy?.withCheck
            let keyShape = try row.integer("primary_keys") == 1 && row.optionalText("misordered_indexes") == nil
            tables.append(.init(name: subject, filtered: enabled && forced && usingIntact, writesConfined: enabled && forced && checkIntact, keyLeadsWithTenantID: keyShape))

            if !enabled {
                findings.append(.init(subject: subject, message: "row-level security is not enabled on \(subject); run protect(table:) again"))
            }
            if !forced {
                findings.append(.init(subject: subject, message: "row-level security is not forced on \(subject), so its owner bypasses the policy; run protect(table:) again"))
            }
            if policy == nil {
                findings.append(.init(subject: subject, message: "the policy \(PostgresRowLevelSecurity.policyName) is missing on \(subject); run protect(table:) again"))
            } else if !usingIntact || !checkIntact {
                findings.append(.init(subject: subject, message: "the policy \(PostgresRowLevelSecurity.policyName) on \(subject) lacks a USING or WITH CHECK clause, or differs from what the library creates; run protect(table:) again"))
            }
            if let others = try row.optionalText("other_policies") {
                findings.append(.init(subject: subject, message: "\(subject) has other permissive policies (\(others)); permissive policies are combined with OR, so they can widen what a tenant sees; drop them or make them RESTRICTIVE"))
            }
            if !keyShape {
                findings.append(.init(subject: subject, message: "tenant_id does not lead the primary key and every unique index of \(subject); make tenant_id their first column"))
            }
        }
        return (tables, findings)
    }

    /// Applies the start-up check's role rules and returns every problem as a finding, so a
    /// role that breaks several rules (a grant of `TEMPORARY` on the database next to
    /// `pg_read_all_data`, say) shows each of them.
    private func roleFindings() async throws -> [IsolationReport.Finding] {
        let rls = tenants.rowLevelSecurity
        var findings: [IsolationReport.Finding] = []
        let role = try await tenants.database.query("SELECT current_user::text AS role").first?.text("role") ?? "?"
        for row in try await tenants.database.query(PostgresTenantDatabase.roleChainSQL(rls.quotedSchema), [.text(rls.schema)]) {
            let subject = try row.text("role")
            for problem in try PostgresTenantDatabase.unsafeProblems(row, applicationRole: role, verified: tenants.binding.isVerified) {
                findings.append(.init(subject: subject, message: problem.message))
            }
        }
        return findings
    }

    /// Views over tenant tables without `security_invoker`, `SECURITY DEFINER` functions that
    /// name a tenant table, and unprotected tables with a `tenant_id` column.
    private func objectFindings(_ protected: [PostgresRowLevelSecurity.TableName]) async throws -> [IsolationReport.Finding] {
        var findings: [IsolationReport.Finding] = []
        let tableNames = try protected.map { try $0.qualified }
        let rls = tenants.rowLevelSecurity

        // Views reading a tenant table, directly or through other views, found through the
        // dependencies of their rewrite rules.
        let views = try await tenants.database.query(
            """
            WITH RECURSIVE tenant_relations(oid) AS (
                SELECT pg_catalog.to_regclass(name)::oid FROM pg_catalog.unnest($1::text[]) AS name WHERE pg_catalog.to_regclass(name) IS NOT NULL
                UNION
                SELECT rw.ev_class FROM pg_catalog.pg_rewrite rw
                JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid OPERATOR(pg_catalog.=) rw.oid
                    AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                JOIN tenant_relations t ON t.oid OPERATOR(pg_catalog.=) d.refobjid
                WHERE rw.ev_class OPERATOR(pg_catalog.<>) d.refobjid
            )
            SELECT v.oid::regclass::text AS name, v.relkind::text AS kind,
                coalesce(v.reloptions::text[] && ARRAY['security_invoker=true', 'security_invoker=on', 'security_invoker=1', 'security_invoker=yes'], false) AS invoker
            FROM tenant_relations t JOIN pg_catalog.pg_class v ON v.oid OPERATOR(pg_catalog.=) t.oid
            WHERE v.relkind IN ('v', 'm')
            ORDER BY 1
            """, [.text(Self.textArray(tableNames))])
        for view in views {
            let name = try view.text("name")
            if try view.text("kind") == "m" {
                findings.append(.init(subject: name, message: "the materialized view \(name) stores rows of tenant tables without row-level security; drop it or make it a view WITH (security_invoker = true)"))
            } else if try !view.boolean("invoker") {
                findings.append(.init(subject: name, message: "the view \(name) reads tenant tables with its owner's rights; ALTER VIEW \(name) SET (security_invoker = true)"))
            }
        }

        // SECURITY DEFINER functions that name a tenant table, other than the library's own:
        // through recorded dependencies (SQL-standard bodies), or in the source text when it
        // names the table and either its schema or the function is in the table's schema.
        // NOTE: the text match misses a body that builds the name at run time (EXECUTE with
        // format) and may report a function that only mentions the name.
        let functions = try await tenants.database.query(
            """
            SELECT p.oid::regprocedure::text AS name
            FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
            WHERE p.prosecdef AND NOT (n.nspname OPERATOR(pg_catalog.=) $2 AND p.proname IN ('current_tenant', 'bind_tenant'))
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND (EXISTS (SELECT FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[])) AS t(schema_name, table_name)
                           WHERE pg_catalog.strpos(pg_catalog.lower(p.prosrc), pg_catalog.lower(t.table_name)) OPERATOR(pg_catalog.>) 0
                             AND (n.nspname OPERATOR(pg_catalog.=) t.schema_name
                                  OR pg_catalog.strpos(pg_catalog.lower(p.prosrc), pg_catalog.lower(t.schema_name)) OPERATOR(pg_catalog.>) 0))
                OR EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid OPERATOR(pg_catalog.=) p.oid
                           AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                           AND d.refobjid OPERATOR(pg_catalog.=) ANY (SELECT pg_catalog.to_regclass(name)::oid FROM pg_catalog.unnest($1::text[]) AS name)))
            ORDER BY 1
            """,
            [.text(Self.textArray(tableNames)), .text(rls.schema), .text(Self.textArray(protected.map(\.schema))), .text(Self.textArray(protected.map(\.name)))])
        for function in functions {
            let name = try function.text("name")
            findings.append(.init(subject: name, message: "the SECURITY DEFINER function \(name) reads a tenant table with its owner's rights; make it SECURITY INVOKER"))
        }

        // Schemas where the application role may create objects. The binding check names
        // every object with its schema, so this is no bypass, but such a role could shadow
        // unqualified names in the application's own SQL.
        let creatable = try await tenants.database.query(
            """
            SELECT n.nspname::text AS name FROM pg_catalog.pg_namespace n
            WHERE pg_catalog.has_schema_privilege(n.oid, 'CREATE') AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
              AND ($1::text[] IS NULL OR n.nspname OPERATOR(pg_catalog.=) ANY ($1::text[]))
            ORDER BY 1
            """, [schemas.map { .text(Self.textArray($0)) } ?? .null])
        for schema in creatable {
            let name = try schema.text("name")
            findings.append(.init(subject: name, message: "the application role may create objects in schema \(name); REVOKE CREATE ON SCHEMA \(name) FROM it and from PUBLIC"))
        }

        // Tables with a tenant_id column that are not protected. A table that another
        // installation of the library protects (forced row-level security and the library's
        // policy) is that installation's to verify.
        let unprotected = try await tenants.database.query(
            """
            SELECT n.nspname::text AS schema_name, c.relname::text AS table_name
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
            JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) 'tenant_id' AND NOT a.attisdropped
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_%' AND c.relname NOT LIKE 'tenancy\\_%'
              AND ($1::text[] IS NULL OR n.nspname OPERATOR(pg_catalog.=) ANY ($1::text[]))
              AND NOT (c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (
                  SELECT FROM pg_catalog.pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid AND p.polname OPERATOR(pg_catalog.=) $2))
            ORDER BY 1, 2
            """, [schemas.map { .text(Self.textArray($0)) } ?? .null, .text(PostgresRowLevelSecurity.policyName)])
        let protectedSet = Set(protected)
        for row in unprotected {
            let table = PostgresRowLevelSecurity.TableName(schema: try row.text("schema_name"), name: try row.text("table_name"))
            if !protectedSet.contains(table) {
                findings.append(.init(subject: table.description, message: "the table \(table) has a tenant_id column but is not protected; run protect(table:) on it"))
            }
        }
        return findings
    }

    /// Returns a PostgreSQL array literal of texts, each element quoted, for a `text[]`
    /// parameter.
    static func textArray(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }

    // MARK: - Probes

    /// Creates and protects a scratch table as the owner, runs `body`, and drops the table,
    /// also when `body` throws.
    private func withScratchTable<Result>(
        _ body: (PostgresRowLevelSecurity.TableName, TenantID, TenantID) async throws -> Result
    ) async throws -> Result {
        let suffix = String(UUID().uuidString.lowercased().prefix(8))
        let rls = tenants.rowLevelSecurity
        let table = PostgresRowLevelSecurity.TableName(schema: rls.schema, name: "isolation_probe_" + suffix)
        let tenantA = try TenantID(validating: "probe-a-" + suffix)
        let tenantB = try TenantID(validating: "probe-b-" + suffix)
        let applicationRole = tenants.database.configuration.user
        let qualified = try table.qualified
        try await owner.execute(
            "CREATE TABLE \(qualified) (tenant_id text COLLATE \"C\" NOT NULL, id text NOT NULL, note text NOT NULL DEFAULT 'original', PRIMARY KEY (tenant_id, id))")
        do {
            try await rls.protect(table: table.name, schema: table.schema, owner: owner, applicationRole: applicationRole)
            let result = try await body(table, tenantA, tenantB)
            try await dropScratchTable(table)
            return result
        } catch {
            try? await dropScratchTable(table)
            throw error
        }
    }

    private func dropScratchTable(_ table: PostgresRowLevelSecurity.TableName) async throws {
        let rls = tenants.rowLevelSecurity
        let qualified = try table.qualified
        try await owner.transaction { connection in
            try connection.execute("DROP TABLE IF EXISTS \(qualified)")
            try connection.execute(
                "DELETE FROM \(rls.quotedSchema).rls_tables WHERE schema_name = $1 AND table_name = $2", [.text(table.schema), .text(table.name)])
        }
    }

    private func liveProbes(table: PostgresRowLevelSecurity.TableName, tenantA: TenantID, tenantB: TenantID) async throws -> [IsolationReport.Probe] {
        let name = try table.qualified
        let asA = tenants.handle(forID: tenantA)
        let asB = tenants.handle(forID: tenantB)
        try await asB.execute("INSERT INTO \(unsafeSQL: name) (tenant_id, id) VALUES (\(tenantB), 'b1')")
        try await asA.execute("INSERT INTO \(unsafeSQL: name) (tenant_id, id) VALUES (\(tenantA), 'a1')")
        let bOriginal = ["b1=original"]

        func bRows() async throws -> [String] {
            try await asB.query("SELECT id || '=' || note AS row FROM \(unsafeSQL: name) ORDER BY id").map { try $0.text("row") }
        }
        func rejected(_ query: PostgresQuery) async -> (Bool, String) {
            do {
                try await asA.execute(query)
                return (false, "the statement ran")
            } catch let error as PostgresError where error.code == .insufficientPrivilege {
                return (true, "rejected by the policy's WITH CHECK clause (SQLSTATE \(error.code.map { "\($0)" } ?? ""))")
            } catch {
                return (false, "failed for another reason: \(error)")
            }
        }
        var probes: [IsolationReport.Probe] = []
        func probe(_ probeName: String, _ body: () async throws -> (Bool, String)) async {
            do {
                let (passed, detail) = try await body()
                probes.append(.init(name: probeName, passed: passed, detail: detail))
            } catch {
                probes.append(.init(name: probeName, passed: false, detail: "probe failed: \(error)"))
            }
        }

        await probe("tenant A reads only its rows") {
            let ids = try await asA.query("SELECT id FROM \(unsafeSQL: name) ORDER BY id").map { try $0.text("id") }
            return (ids == ["a1"], "read \(ids)")
        }
        await probe("tenant A cannot update B's rows") {
            try await asA.execute("UPDATE \(unsafeSQL: name) SET note = 'changed by A'")
            let rows = try await bRows()
            return (rows == bOriginal, "B's rows after A's unfiltered UPDATE: \(rows)")
        }
        await probe("tenant A cannot delete B's rows") {
            try await asA.execute("DELETE FROM \(unsafeSQL: name) WHERE id = 'b1'")
            let rows = try await bRows()
            return (rows == bOriginal, "B's rows after A's DELETE of B's key: \(rows)")
        }
        await probe("tenant A cannot re-home its rows to B") {
            try await asA.execute("INSERT INTO \(unsafeSQL: name) (tenant_id, id) VALUES (\(tenantA), 'a2')")
            return await rejected("UPDATE \(unsafeSQL: name) SET tenant_id = \(tenantB) WHERE id = 'a2'")
        }
        await probe("tenant A cannot insert rows for B") {
            await rejected("INSERT INTO \(unsafeSQL: name) (tenant_id, id) VALUES (\(tenantB), 'b2')")
        }
        await probe("tenant A cannot replace B's rows") {
            await rejected("INSERT INTO \(unsafeSQL: name) (tenant_id, id, note) VALUES (\(tenantB), 'b1', 'replaced by A') ON CONFLICT (tenant_id, id) DO UPDATE SET note = excluded.note")
        }
        await probe("tenant A cannot switch to B with set_config") {
            let statement = PostgresQuery(
                unsafeSQL: "SELECT pg_catalog.set_config('tenancy.tenant_id', $1, true) AS bound, (SELECT pg_catalog.count(*) FROM \(name) WHERE id = 'b1') AS seen",
                arguments: [.text(tenantB.rawValue)])
            let before = try await asA.transaction { transaction in
                _ = try transaction.query(PostgresQuery(unsafeSQL: "SELECT pg_catalog.set_config('tenancy.tenant_id', $1, true)", arguments: [.text(tenantB.rawValue)]))
                return try transaction.queryWithoutRebinding(
                    PostgresQuery(unsafeSQL: "SELECT pg_catalog.count(*) AS seen FROM \(name) WHERE id = 'b1'"))[0].integer("seen")
            }
            let inside = try await asA.query(statement)[0].integer("seen")
            return (before == 0 && inside == 0, "B's rows seen after set_config in A's transaction: \(before), in the same statement: \(inside)")
        }
        await probe("tenant A cannot read the library's tables") {
            // The application role reads the list of protected tables for the library's own
            // statements. The C check rejects every library table in a tenant transaction, while
            // with the PL/pgSQL check tenant SQL reaches all of them (registry, audit, quotas).
            let list = "\(tenants.rowLevelSecurity.quotedSchema).rls_tables"
            do {
                let count = try await asA.query(PostgresQuery(unsafeSQL: "SELECT count(*) AS n FROM \(list)"))[0].integer("n")
                return (false, "read \(count) rows of \(tenants.rowLevelSecurity.schema).rls_tables: with the \(tenants.bindingCheck.displayName), tenant SQL can use every table the application role can, the registry and audit trail included; install the C binding check (postgres-extension)")
            } catch let error as PostgresError where error.code == .insufficientPrivilege && error.serverMessage?.hasPrefix("tenancy binding:") == true {
                return (true, "rejected by the C binding check (SQLSTATE 42501)")
            }
        }
        await probe("no tenant sees no rows") {
            let count = try await tenants.queryWithoutTenant("SELECT count(*) AS n FROM \(unsafeSQL: name)")[0].integer("n")
            return (count == 0, "rows visible with no tenant bound: \(count)")
        }
        return probes
    }

    /// Reads each real protected table with no tenant and with an unknown one: both must see
    /// nothing.
    private func tableProbes(_ protected: [PostgresRowLevelSecurity.TableName]) async throws -> [IsolationReport.Probe] {
        let stranger = tenants.handle(forID: try TenantID(validating: "probe-unknown-" + String(UUID().uuidString.lowercased().prefix(8))))
        var probes: [IsolationReport.Probe] = []
        for table in protected {
            let query = PostgresQuery(unsafeSQL: "SELECT count(*) AS n FROM \(try table.qualified)")
            do {
                let none = try await tenants.queryWithoutTenant(query)[0].integer("n")
                let unknown = try await stranger.query(query)[0].integer("n")
                probes.append(.init(
                    name: "\(table): no tenant and an unknown tenant see nothing", passed: none == 0 && unknown == 0,
                    detail: "rows with no tenant: \(none), with an unknown tenant: \(unknown)"))
            } catch {
                probes.append(.init(name: "\(table): no tenant and an unknown tenant see nothing", passed: false, detail: "probe failed: \(error)"))
            }
        }
        return probes
    }
}
