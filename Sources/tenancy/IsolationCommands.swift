import Foundation
import Tenancy
import TenancyPostgres
import TenancySQLite

/// The commands that work on tenant data: `verify` checks the isolation of the protected
/// tables, and `sql` runs one statement as a tenant, or read-only across tenants.
enum IsolationCommands {
    static let verify = Command(
        name: "verify",
        summary: "check the isolation of the protected tables and run live cross-tenant probes",
        options: [
            .value(
                "only-schema", "NAMES",
                help: "PostgreSQL only: search just these comma-separated schemas for unprotected tables and other findings (default every schema)"),
        ],
        details: """
            Lists every protected table (FILTERED: its view shows only the bound tenant's rows;
            WRITES CONFINED: its three INSTEAD OF triggers exist; KEY SHAPE: tenant_id leads the
            primary key and every unique index), the findings (views or triggers that reach a base
            table, unprotected tables with a tenant_id column) and the live probes. The probes run
            in a transaction that is rolled back, so they leave nothing behind.
            Exits with 4 when there is a finding or a probe failed, with 0 otherwise.
            On PostgreSQL the output starts with the binding check the database runs (the C check
            from the tenancy_binding library, or the PL/pgSQL check). FILTERED means that row-level
            security is enabled and forced with the library's policy, WRITES CONFINED that the
            policy has its WITH CHECK clause. The probes run through the application role as two
            probe tenants on a scratch table that the owner role creates and drops, so verify
            needs --owner-database and \(PostgresBindingSecret.environmentVariable). One probe
            reads the library's own tables as a tenant: the C check rejects that, and with the
            PL/pgSQL check it fails. Every schema is searched for unprotected tables with a tenant_id
            column, unless --only-schema names the schemas to search.
            """,
        run: runVerify)

    static let sql = Command(
        name: "sql",
        summary: "run one SQL statement as a tenant, or read-only across tenants with --platform",
        options: [
            .value("tenant", "ID", help: "the tenant the statement runs as"),
            .flag("platform", help: "PostgreSQL only: run the statement read-only as the maintenance role, which sees every tenant's rows, instead of as a tenant"),
            .value("reason", "TEXT", help: "with --platform: why, up to 500 characters; stored in the audit trail, so no personal data"),
        ],
        positionals: [PositionalSpec(name: "SQL", isRequired: true, help: "one SQL statement, quoted for the shell")],
        details: """
            The statement runs in the tenant's scope with row-level security on: it sees and changes
            only that tenant's rows of protected tables. On PostgreSQL the C binding check also
            rejects the library's own tables (registry, audit, quotas) and commands whose effect
            outlives the statement; with the PL/pgSQL check the statement can read and change every
            table the application role can, which 'tenancy verify' reports. A statement whose first keyword is INSERT,
            UPDATE, DELETE or REPLACE prints the number of rows it changed ({"changed": N} with
            --json). Any other statement prints its rows as a table, or with --json as an array of
            objects from column name to value (NULL as null, blobs as base64 strings, a repeated
            column name with a suffix such as ':2'). Table cells are cut at \(maximumCellLength) characters, and
            --json prints them whole. A statement that starts with WITH runs as a query, even when
            it writes.
            A suspended tenant exits with 4, an unknown one with 3. A statement the isolation guards
            deny exits with 4 and prints the reason: a base table, DDL, ATTACH, a foreign tenant_id,
            a form that cannot work behind a protected view (RETURNING, ON CONFLICT), or a run past
            the statement time limit (\(statementTimeLimitSeconds) seconds) or the length limit. Denials are recorded
            in the audit trail as \(AuditAction.isolationDenied). Put '--' before a statement that
            starts with '-'.
            With --platform instead of --tenant (PostgreSQL only), the statement runs in the platform
            scope, recorded in the audit trail as \(AuditAction.platformScope) with the --reason, as the
            maintenance role from --maintenance-database or \(PostgresSettings.maintenanceVariable): a
            role with BYPASSRLS that may not change tenant tables, checked before the statement
            runs. The statement runs in a read-only transaction and prints its rows. A statement
            that tries to write exits with 4 and changes nothing.
            """,
        run: runSQL)

    static let protect = Command(
        name: "protect",
        summary: "put an existing table under tenant isolation",
        options: [
            .value("table-schema", "NAME", help: "PostgreSQL only: the table's schema (default public)"),
        ],
        positionals: [
            PositionalSpec(name: "TABLE", isRequired: true, help: "the table's name, a plain SQL identifier"),
        ],
        details: """
            The table needs a text column tenant_id that leads its primary key and every unique
            index. On SQLite its rows move to a base table behind a view of the same name that
            shows only the bound tenant's rows, in the platform scope. On PostgreSQL the owner role
            (--owner-database) enables and forces row-level security on it, creates the library's
            policy, grants the application role reads and writes, and grants the maintenance role
            (--maintenance-database, when set) reads; the table must belong to the owner role.
            Protecting a table again changes nothing. A table whose shape does not fit exits with
            4 and says what to change.
            """,
        run: runProtect)

    /// The isolation options of `sql` and the demo: the same guards a pooled application gets.
    static let isolation = TenantDataIsolation(enforceRowLevelSecurity: true, isolateFileStorage: false, separateEncryptionKeys: false)

    /// How long one `sql` statement may run, in seconds, before it is interrupted.
    static let statementTimeLimitSeconds = 5

    /// The widest cell of a `sql` result table, in characters.
    static let maximumCellLength = 60

    /// Returns an enforcer over the protected tables of `tenants`.
    static func enforcer(_ tenants: SQLiteTenantDatabase) throws -> TenantIsolationEnforcer<SQLiteTenantDatabase> {
        try TenantIsolationEnforcer(isolation, database: tenants)
    }

    // MARK: - verify

    private static func runVerify(_ invocation: Invocation) async throws {
        let schemas = try onlySchemas(invocation.arguments.value("only-schema"))
        let registry = try await invocation.openRegistry(tenantData: true)
        let report: IsolationReport
        var bindingCheck: PostgresBindingCheck?
        switch registry.backend {
        case .sqlite(let database, _):
            guard schemas == nil else {
                throw UsageError("option '--only-schema' applies only to a postgres:// database: SQLite has no schemas to choose from")
            }
            report = try await SQLiteIsolationVerifier(try await SQLiteTenantDatabase(database)).verify()
        case .postgres(let backend):
            let tenants = try backend.requireTenants()
            bindingCheck = tenants.bindingCheck
            let verifier = PostgresIsolationVerifier(tenants, owner: try backend.requireOwner(for: "verify"), schemas: schemas)
            report = try await verifier.verify()
        }

        if invocation.json {
            try invocation.console.writeJSON(IsolationReportOutput(report, bindingCheck: bindingCheck))
        } else {
            var text = render(report)
            if let bindingCheck {
                text = "Binding check: \(bindingCheck.displayName)\n" + text
            }
            invocation.console.write(text)
        }
        guard report.passed else {
            throw IsolationCheckFailedError(report: report)
        }
    }

    /// Returns the schemas `--only-schema` names, or nil (every schema) without the option.
    ///
    /// - Throws: `UsageError` for an empty list or a name that is not a valid identifier.
    static func onlySchemas(_ value: String?) throws -> [String]? {
        guard let value else { return nil }
        let names = value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        for name in names {
            guard (try? PostgresIdentifier.quoted(name)) != nil, !name.isEmpty else {
                throw UsageError("invalid schema name '\(name)' in --only-schema: expected comma-separated schema names such as 'tenancy,public'")
            }
        }
        return names
    }

    /// Formats a report as three tables and a closing line.
    static func render(_ report: IsolationReport) -> String {
        var sections: [String] = []

        if report.tables.isEmpty {
            sections.append("Protected tables: none.")
        } else {
            var tables = TextTable("TABLE", "FILTERED", "WRITES CONFINED", "KEY SHAPE")
            for table in report.tables {
                tables.append(table.name, yesNo(table.filtered), yesNo(table.writesConfined), table.keyLeadsWithTenantID ? "ok" : "invalid")
            }
            sections.append("Protected tables:\n" + tables.render())
        }

        if report.findings.isEmpty {
            sections.append("Findings: none.")
        } else {
            var findings = TextTable("SUBJECT", "FINDING")
            for finding in report.findings {
                findings.append(finding.subject, finding.message)
            }
            sections.append("Findings:\n" + findings.render())
        }

        var probes = TextTable("RESULT", "PROBE", "DETAIL")
        for probe in report.probes {
            probes.append(probe.passed ? "passed" : "failed", probe.name, probe.detail)
        }
        sections.append("Probes:\n" + probes.render())

        let passedProbes = report.probes.filter(\.passed).count
        let verdict = report.passed ? "Passed" : "Failed"
        sections.append("\(verdict): \(count(report.findings.count, "finding")), \(passedProbes) of \(report.probes.count) probes passed.")
        return sections.joined(separator: "\n\n")
    }

    private static func yesNo(_ value: Bool) -> String {
        value ? "yes" : "no"
    }

    // MARK: - sql

    /// The result of one `sql` statement: its rows, or the number of rows it changed.
    private enum StatementResult: Sendable {
        case rows([SQLiteRow])
        case postgresRows([PostgresRow])
        case changed(Int)
    }

    private static func runProtect(_ invocation: Invocation) async throws {
        let table = invocation.positional(0)!
        let tableSchema = invocation.arguments.value("table-schema")
        let registry = try await invocation.openRegistry(tenantData: true)
        let name: String
        switch registry.backend {
        case .sqlite(let database, _):
            guard tableSchema == nil else {
                throw UsageError("option '--table-schema' applies only to a postgres:// database: SQLite has no schemas")
            }
            let tenants = try await SQLiteTenantDatabase(database, audit: registry.manager.audit)
            try await registry.manager.withPlatformScope(reason: "tenancy protect \(table)") {
                try await tenants.protect(table: table)
            }
            name = table
        case .postgres(let backend):
            let owner = try backend.requireOwner(for: "protect")
            let tenants = try backend.requireTenants()
            let settings = PostgresSettings.resolve(invocation.arguments, environment: invocation.environment)
            let maintenance = try settings.maintenanceURL.map { try OpenRegistry.parseURL($0, source: "--maintenance-database").user }
            let schema = tableSchema ?? "public"
            try await tenants.rowLevelSecurity.protect(
                table: table, schema: schema, owner: owner, applicationRole: backend.database.configuration.user, maintenanceRole: maintenance)
            name = "\(schema).\(table)"
        }
        if invocation.json {
            try invocation.console.writeJSON(ProtectOutput(table: name, protected: true))
        } else {
            invocation.console.write("Protected table \(name).")
        }
    }

    /// The output of `protect --json`.
    struct ProtectOutput: Encodable {
        let table: String
        let protected: Bool
    }

    private static func runSQL(_ invocation: Invocation) async throws {
        let target = try SQLTarget(invocation.arguments)
        let statement = invocation.positional(0)!
        guard !statement.allSatisfy(\.isWhitespace) else {
            throw UsageError("missing SQL: the statement is empty")
        }
        let result: StatementResult
        switch target {
        case .tenant(let id):
            result = try await runAsTenant(id, statement, invocation)
        case .platform(let reason):
            result = .postgresRows(try await runAcrossTenants(statement, reason: reason, invocation))
        }
        try write(result, invocation)
    }

    /// Runs `statement` in the tenant's scope through the isolation guards.
    private static func runAsTenant(_ id: TenantID, _ statement: String, _ invocation: Invocation) async throws -> StatementResult {
        let isWrite = SQLStatementKind.isWrite(statement)
        let registry = try await invocation.openRegistry(tenantData: true, statementTimeLimit: .seconds(statementTimeLimitSeconds))
        let result: StatementResult
        switch registry.backend {
        case .sqlite(let database, _):
            let tenants = try await SQLiteTenantDatabase(
                database, statementTimeLimit: .seconds(statementTimeLimitSeconds), audit: registry.manager.audit)
            let enforcer = try enforcer(tenants)
            let query = SQLiteQuery(unsafeSQL: statement)
            result = try await registry.manager.withTenant(id) { _ in
                try await enforcer.requireTenantScope { scope in
                    if isWrite {
                        return .changed(try await scope.database.execute(query))
                    }
                    return .rows(try await scope.database.query(query))
                }
            }
        case .postgres(let backend):
            let enforcer = try TenantIsolationEnforcer(isolation, database: try backend.requireTenants())
            let query = PostgresQuery(unsafeSQL: statement)
            result = try await registry.manager.withTenant(id) { _ in
                try await enforcer.requireTenantScope { scope in
                    if isWrite {
                        return .changed(try await scope.database.execute(query))
                    }
                    return .postgresRows(try await scope.database.query(query))
                }
            }
        }
        return result
    }

    /// Prints the rows, or the number of rows changed, as text or JSON.
    private static func write(_ result: StatementResult, _ invocation: Invocation) throws {
        switch result {
        case .changed(let changedRows):
            if invocation.json {
                try invocation.console.writeJSON(["changed": changedRows])
            } else {
                invocation.console.write("\(count(changedRows, "row")) changed.")
            }
        case .rows(let rows):
            if invocation.json {
                try invocation.console.writeJSON(rows.map(SQLRowOutput.init))
            } else {
                invocation.console.write(render(rows))
            }
        case .postgresRows(let rows):
            if invocation.json {
                try invocation.console.writeJSON(rows.map(SQLRowOutput.init))
            } else {
                invocation.console.write(render(rows))
            }
        }
    }

    /// Formats PostgreSQL rows as a table followed by their count, or "No rows.". Values are
    /// in PostgreSQL's text form, NULL as `NULL`.
    static func render(_ rows: [PostgresRow]) -> String {
        guard let first = rows.first else {
            return "No rows."
        }
        var table = TextTable(columns: first.columnNames)
        for row in rows {
            table.append(cells: row.values.map { TextTable.truncated($0.map { cell(.text($0)) } ?? "NULL", to: maximumCellLength) })
        }
        return table.render() + "\n\n(\(count(rows.count, "row")))"
    }

    /// Formats rows as a table followed by their count, or "No rows."
    static func render(_ rows: [SQLiteRow]) -> String {
        guard let first = rows.first else {
            return "No rows."
        }
        var table = TextTable(columns: first.columnNames)
        for row in rows {
            table.append(cells: row.values.map { TextTable.truncated(cell($0), to: maximumCellLength) })
        }
        return table.render() + "\n\n(\(count(rows.count, "row")))"
    }

    /// Formats one value for a table cell: NULL, a number, text with control characters
    /// escaped so a row stays on one line, or a blob as an SQL hex literal.
    static func cell(_ value: SQLiteValue) -> String {
        switch value {
        case .null:
            return "NULL"
        case .integer(let number):
            return String(number)
        case .real(let number):
            return String(number)
        case .text(let text):
            return text.unicodeScalars.map { scalar in
                scalar.properties.generalCategory == .control ? scalar.escaped(asASCII: true) : String(scalar)
            }.joined()
        case .blob(let bytes):
            return "x'" + bytes.map { String(format: "%02X", $0) }.joined() + "'"
        }
    }

    /// Returns "1 row", "2 rows" and the like.
    static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }
}

/// Classifies a statement by its first keyword, after whitespace and comments.
enum SQLStatementKind {
    /// The first keywords of the statements `sql` runs with `execute` and reports as a count.
    static let writeKeywords: Set<String> = ["INSERT", "UPDATE", "DELETE", "REPLACE"]

    static func isWrite(_ sql: String) -> Bool {
        firstKeyword(sql).map { writeKeywords.contains($0) } ?? false
    }

    /// Returns the first keyword in upper case, skipping whitespace, `--` line comments and
    /// `/* */` block comments, or nil when the text has no keyword.
    static func firstKeyword(_ sql: String) -> String? {
        var rest = Substring(sql)
        while true {
            rest = rest.drop(while: \.isWhitespace)
            if rest.hasPrefix("--") {
                rest = rest.drop(while: { $0 != "\n" })
            } else if rest.hasPrefix("/*") {
                guard let end = rest.range(of: "*/") else { return nil }
                rest = rest[end.upperBound...]
            } else {
                break
            }
        }
        let keyword = rest.prefix { $0.isASCII && ($0.isLetter || $0 == "_") }
        return keyword.isEmpty ? nil : keyword.uppercased()
    }
}

/// The isolation check found a problem; the CLI exits with status 4.
struct IsolationCheckFailedError: Error, CustomStringConvertible {
    let report: IsolationReport

    var description: String {
        let failed = report.probes.filter { !$0.passed }.count
        return "the isolation check failed: \(IsolationCommands.count(report.findings.count, "finding")) and "
            + "\(IsolationCommands.count(failed, "failed probe")); fix the objects listed and run 'tenancy verify' again"
    }
}
