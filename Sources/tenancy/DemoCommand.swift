import Foundation
import Tenancy
import TenancyPostgres

/// The `demo` command: a short tour of the library on a new SQLite database.
enum DemoCommand {
    static let demo = Command(
        name: "demo",
        summary: "run a short tour: tenants on four tiers, concurrent scoped tasks, data isolation, quotas, rate limits, suspension, purge",
        options: [
            .value(
                "database", "URL",
                help: "sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE to run in (default: a new temporary SQLite database; \(DatabaseLocation.environmentVariable) is not read)"),
            .value(
                "owner-database", "URL",
                help: "PostgreSQL only, required there: the owner role, which installs the demo's schema (\(PostgresSettings.ownerVariable) is not read)"),
            .value(
                "admin-database", "URL",
                help: "PostgreSQL only, optional: a superuser, which creates the demo's schema with the C binding check when the server has the tenancy_binding library"),
        ],
        details: """
            The demo never reads \(DatabaseLocation.environmentVariable), so it cannot touch an operator's
            registry. The database is kept afterwards, and its path is printed in the summary.
            With --database naming an existing registry, the demo writes into it: four new demo
            tenants (one suspended, one deleted) with their audit records, quota counters and rate-limit
            buckets, and a protected table debates with the demo tenants' rows. It stops before creating any tenant when that file
            has a table or view named debates that is not protected.
            On PostgreSQL the demo installs everything in a new schema named tenancy_demo_ followed by 8
            random characters, and never writes to another schema; the schema is kept and named in the
            summary. It signs tenant bindings with \(PostgresBindingSecret.environmentVariable) when set, else with a new
            secret that only this run knows. With --admin-database, a superuser first creates the schema
            with the C binding check, so the demo runs as a production setup does; without it the
            demo uses the PL/pgSQL check, and 'tenancy verify' afterwards reports that tenant SQL
            can reach the library's tables.
            """,
        run: runDemo)

    /// The tenants the demo creates: name, tier and whether it starts as a trial.
    private static let tenantsToCreate: [(name: String, tier: TenantTier, trial: Bool, email: String)] = [
        ("Acme Corporation", .enterprise, false, "admin@acme.example"),
        ("Globex", .business, false, "ops@globex.example"),
        ("Initech", .starter, true, "it@initech.example"),
        ("Umbrella Labs", .free, false, "admin@umbrella.example"),
    ]

    /// How many scoped tasks run per tenant.
    private static let tasksPerTenant = 3

    private static func runDemo(_ invocation: Invocation) async throws {
        // The demo makes its own schema and has no platform section, so these global options
        // would be silently ignored.
        for option in ["schema", "maintenance-database"] where invocation.arguments.value(option) != nil {
            throw UsageError("option '--\(option)' does not apply to the demo: it installs into a new schema of its own and reads no maintenance role")
        }
        let location = try invocation.arguments.value("database").map { try DatabaseLocation(parsing: $0, source: "--database") }
            ?? .sqlite(path: try temporaryDatabasePath())
        for option in ["owner-database", "admin-database"] where invocation.arguments.value(option) != nil {
            if case .sqlite = location {
                throw UsageError("option '--\(option)' applies only to a postgres:// database")
            }
        }
        let registry: OpenRegistry
        var inspection: Inspection
        switch location {
        case .sqlite(let path):
            registry = try await OpenRegistry.open(location, create: true)
            inspection = Inspection(options: "--database sqlite:\(path)", verifyOptions: "", debatesTable: "debates", secretLine: nil)
        case .postgres(let url):
            let settings = try postgresSettings(invocation)
            try await requireNewSchema(settings.schema, url: url)
            if let adminURL = invocation.arguments.value("admin-database") {
                try await installBindingLibrary(adminURL: adminURL, applicationURL: url, settings: settings)
            }
            registry = try await OpenRegistry.openPostgres(url: url, settings: settings, create: true, requireTenants: true)
            let ownerURL = settings.ownerURL.map(DatabaseLocation.redacted) ?? "URL"
            // A secret the demo generated exists only in this process unless it is printed.
            let generated = invocation.environment[PostgresBindingSecret.environmentVariable].map(\.isEmpty) ?? true
            inspection = Inspection(
                options: "--database \(DatabaseLocation.redacted(url)) --schema \(settings.schema)",
                verifyOptions: " --owner-database \(ownerURL) --only-schema \(settings.schema)",
                debatesTable: "\(settings.schema).debates",
                secretLine: generated ? settings.secretHex.map { "export \(PostgresBindingSecret.environmentVariable)=\($0)" } : nil)
        }
        let manager = registry.manager
        let tenantData = try await prepareIsolation(registry)
        if case .postgres(let tenants) = tenantData, tenants.bindingCheck == .plpgsql {
            inspection.verifyNote = "verify reports one failed probe: with the PL/pgSQL check, tenant SQL can read the library's tables (run the demo with --admin-database for the C check)"
        }
        let narrator = Narrator(console: invocation.console, isQuiet: invocation.json)

        narrator.heading("Tenants")
        var tenants: [Tenant] = []
        for entry in tenantsToCreate {
            tenants.append(try await manager.createTenant(
                name: entry.name, tier: entry.tier, adminEmail: entry.email, status: entry.trial ? .trial : .active))
        }
        var table = TextTable("ID", "NAME", "TIER", "STATUS")
        for tenant in tenants {
            table.append(tenant.id.rawValue, tenant.name, tenant.tier.rawValue, tenant.status.rawValue)
        }
        narrator.say("Created \(tenants.count) tenants on \(Set(tenants.map(\.tier)).count) tiers.\n\n" + table.render())

        narrator.heading("Concurrent tenant-scoped work")
        let observations = try await runScopedTasks(for: tenants.map(\.id), manager: manager)
        let mismatches = observations.filter { !$0.sawOnlyOwnTenant }
        var taskTable = TextTable("TENANT", "TASKS", "SAW OWN TENANT")
        for tenant in tenants {
            let own = observations.filter { $0.expected == tenant.id }
            taskTable.append(tenant.id.rawValue, "\(own.count)", "\(own.filter(\.sawOnlyOwnTenant).count)")
        }
        narrator.say("""
            \(observations.count) tasks ran in one task group. Each entered manager.withTenant(id) and read
            currentTenant() three calls deep, in an async let child task and in a Task {}.

            \(taskTable.render())
            """)
        if !mismatches.isEmpty {
            throw DemoFailure("\(mismatches.count) of \(observations.count) scoped tasks saw another tenant or none")
        }

        narrator.heading("Data isolation")
        let isolation = try await runIsolation(owner: tenants[0], other: tenants[3], tenants: tenantData, manager: manager, narrator: narrator)

        narrator.heading("Quotas")
        let quotas = try await runQuotas(for: tenants[3], registry: registry, narrator: narrator)

        narrator.heading("Rate limits")
        let rateLimits = try await runRateLimits(for: tenants[2], registry: registry, narrator: narrator)

        narrator.heading("Suspension")
        let suspended = tenants[1].id
        let reason = "billing overdue"
        try await manager.updateStatus(suspended, to: .suspended, reason: reason)
        let rejection: TenantSuspendedError
        do {
            try await manager.withTenant(suspended) { _ in }
            throw DemoFailure("the suspended tenant '\(suspended)' entered a scope")
        } catch let error as TenantSuspendedError {
            rejection = error
        }
        narrator.say("""
            Suspended '\(suspended)' (reason: \(reason)). Entering its scope throws TenantSuspendedError:
              \(rejection)
            """)

        narrator.heading("Deletion with purge")
        let purged = tenants[3].id
        guard let receipt = try await manager.deleteTenant(purged, purgeData: true) else {
            throw DemoFailure("the deletion of '\(purged)' returned no receipt")
        }
        narrator.say("Deleted '\(purged)'; its name and admin e-mail are erased. Receipt:\n\n" + LifecycleCommands.render(receipt))

        let summary = try await Summary(
            manager: manager, path: registry.path, created: tenants.map(\.id), tasks: observations.count,
            tasksWithOwnTenant: observations.count - mismatches.count, isolation: isolation, quotas: quotas,
            rateLimits: rateLimits, rejection: rejection, receipt: receipt)
        if invocation.json {
            try invocation.console.writeJSON(summary)
        } else {
            narrator.heading("Summary")
            narrator.say(summary.rendered(sqlTenant: tenants[0].id, inspection: inspection))
        }
    }

    /// Creates a new directory under the temporary directory and returns a database path in it.
    private static func temporaryDatabasePath() throws -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tenancy-demo-\(UUID().uuidString.lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("demo.sqlite").path
    }

    // MARK: - Scoped tasks

    /// The tenant ids one scoped task read from the context.
    struct Observation: Sendable {
        let expected: TenantID
        /// The tenant ids read inside the scope: in the nested call, the `async let` child and
        /// the `Task {}`; nil where no tenant was bound.
        let seen: [TenantID?]

        var sawOnlyOwnTenant: Bool { !seen.isEmpty && seen.allSatisfy { $0 == expected } }
    }

    /// Runs ``tasksPerTenant`` tasks per tenant in one task group, each in its tenant's scope.
    static func runScopedTasks(for ids: [TenantID], manager: TenantManager) async throws -> [Observation] {
        try await withThrowingTaskGroup(of: Observation.self) { group in
            for round in 0..<tasksPerTenant {
                for id in ids {
                    group.addTask {
                        try await manager.withTenant(id) { _ in
                            try await handleRequest(number: round, expected: id)
                        }
                    }
                }
            }
            var observations: [Observation] = []
            for try await observation in group {
                observations.append(observation)
            }
            return observations
        }
    }

    /// Stands in for request handling: reads the context after a suspension point, in a child
    /// task and in an unstructured task, as a service's handlers would.
    private static func handleRequest(number: Int, expected: TenantID) async throws -> Observation {
        // A short random pause interleaves the tasks of different tenants.
        try await Task.sleep(for: .milliseconds(Int.random(in: 1...5)))
        async let fromChild = loadDashboard()
        let fromTask = await Task { await loadDashboard() }.value
        let fromCall = await loadDashboard()
        return Observation(expected: expected, seen: [fromCall, await fromChild, fromTask])
    }

    private static func loadDashboard() async -> TenantID? {
        await Task.yield()
        return readWidgets()
    }

    private static func readWidgets() -> TenantID? {
        currentTenant()?.id
    }

    // MARK: - Output

    /// Prints the demo's sections, or nothing when the output is JSON.
    final class Narrator {
        let console: Console
        let isQuiet: Bool
        private var hasWritten = false

        init(console: Console, isQuiet: Bool) {
            self.console = console
            self.isQuiet = isQuiet
        }

        /// Writes a section heading, after a blank line unless it is the first.
        func heading(_ title: String) {
            if isQuiet { return }
            console.write((hasWritten ? "\n" : "") + "== \(title) ==")
            hasWritten = true
        }

        func say(_ text: String) {
            if !isQuiet { console.write(text) }
        }
    }

    /// The end of the demo: counts over the tenants this run created, and where the database is.
    ///
    /// The counts leave out every other tenant of the file, so a demo run on an existing
    /// registry reports the same numbers as one on a new database.
    struct Summary: Encodable {
        let databasePath: String
        let tenantsCreated: Int
        /// The number of the demo's tenants per status at the end of the demo.
        let tenantsByStatus: [String: Int]
        let scopedTasks: Int
        let scopedTasksWithOwnTenant: Int
        let isolation: IsolationOutcome
        let quotas: QuotaOutcome
        let rateLimits: RateLimitOutcome
        let rejectedTenantID: String
        let rejectionError: String
        let receipt: ReceiptOutput
        /// The number of audit records about the demo's tenants; platform-wide records, such as
        /// the one for protecting debates, are not counted.
        let auditRecords: Int

        init(
            manager: TenantManager, path: String, created: [TenantID], tasks: Int, tasksWithOwnTenant: Int,
            isolation: IsolationOutcome, quotas: QuotaOutcome, rateLimits: RateLimitOutcome, rejection: TenantSuspendedError,
            receipt: PurgeReceipt
        ) async throws {
            var byStatus: [String: Int] = [:]
            var recordCount = 0
            for id in created {
                byStatus[try await manager.tenant(id).status.rawValue, default: 0] += 1
                recordCount += try await Self.countAuditRecords(of: id, manager: manager)
            }

            databasePath = path
            tenantsCreated = created.count
            tenantsByStatus = byStatus
            scopedTasks = tasks
            scopedTasksWithOwnTenant = tasksWithOwnTenant
            self.isolation = isolation
            self.quotas = quotas
            self.rateLimits = rateLimits
            rejectedTenantID = rejection.tenantID.rawValue
            rejectionError = "TenantSuspendedError"
            self.receipt = ReceiptOutput(receipt)
            auditRecords = recordCount
        }

        private static func countAuditRecords(of id: TenantID, manager: TenantManager) async throws -> Int {
            var count = 0
            var lastSequence: Int64?
            while true {
                let records = try await manager.auditRecords(tenantID: id, afterSequence: lastSequence, limit: 1_000)
                count += records.count
                guard records.count == 1_000, let sequence = records.last?.sequence else { break }
                lastSequence = sequence
            }
            return count
        }

        /// Formats the summary and the commands to explore the database, with `sql` run as
        /// `sqlTenant`.
        func rendered(sqlTenant: TenantID, inspection: Inspection) -> String {
            let statuses = TenantStatus.allCases.compactMap { status in
                tenantsByStatus[status.rawValue].map { "\($0) \(status.rawValue)" }
            }
            var fields = FieldList()
            fields.append("Tenants created", "\(tenantsCreated)")
            fields.append("Tenants by status", statuses.joined(separator: ", "))
            fields.append("Scoped tasks", "\(scopedTasks), \(scopedTasksWithOwnTenant) saw only their own tenant")
            let reads = isolation.rowsSeen.keys.sorted().map { "\(isolation.rowsSeen[$0]!) by '\($0)'" }
            fields.append("Debates read", reads.joined(separator: ", ") + ", each only its own")
            if let records = isolation.deniedAuditRecords {
                fields.append("Denied", "\(isolation.deniedStatements) cross-tenant statements, \(records) audit records written")
            } else {
                fields.append("Denied", "\(isolation.deniedStatements) cross-tenant writes rejected by WITH CHECK")
            }
            if let reads = isolation.emptyCrossTenantReads {
                fields.append("Cross-tenant reads", "\(reads), a forged set_config among them, none returned a row of the other tenant")
            }
            let retry = quotas.retryAfterSeconds.map { ", retry after \($0) s" } ?? ""
            fields.append("Quota rejected", "'\(quotas.tenantID)' \(quotas.quota) after \(quotas.admitted) of \(quotas.limit)\(retry)")
            fields.append("Refunded", "1 \(quotas.quota) charge, \(quotas.usedAfterRefund) of \(quotas.limit) used afterwards")
            let retryAfter = rateLimits.retryAfterSeconds.map { ", Retry-After \($0) s" } ?? ""
            fields.append(
                "Rate limited",
                "'\(rateLimits.tenantID)' \(rateLimits.admitted) of \(rateLimits.requests) requests admitted on key \(rateLimits.key)\(retryAfter)")
            fields.append("Rejected", "'\(rejectedTenantID)' with \(rejectionError)")
            let items = receipt.totalRemoved == 1 ? "item" : "items"
            fields.append("Purged", "'\(receipt.tenantID)', \(receipt.totalRemoved) \(items) removed")
            fields.append("Audit records", "\(auditRecords)")
            fields.append("Database", databasePath)
            return fields.render() + """


                Inspect it with:
                \(inspection.secretLine.map { "  \($0)\n" } ?? "")\
                  tenancy list \(inspection.options)
                  tenancy verify \(inspection.options)\(inspection.verifyOptions)
                \(inspection.verifyNote.map { "    \($0)\n" } ?? "")\
                  tenancy sql --tenant \(sqlTenant) "SELECT * FROM \(inspection.debatesTable)" \(inspection.options)
                """
        }
    }

    /// The options that point the inspection commands printed after the demo at its database.
    struct Inspection {
        /// The database (and schema) options every command takes.
        let options: String
        /// The options `verify` needs on top: the owner role, and the demo's schema only.
        let verifyOptions: String
        let debatesTable: String
        /// The line that exports the binding secret the demo generated, or nil.
        let secretLine: String?
        /// The finding `verify` will report beyond the demo's own checks, or nil.
        var verifyNote: String?
    }

    struct DemoFailure: Error, CustomStringConvertible {
        let description: String

        init(_ description: String) {
            self.description = "demo failed: " + description
        }
    }
}
