import Foundation
import Tenancy

/// The `usage` commands: print a tenant's quotas, charge one as the application would, and
/// reset counters for operators.
///
/// Each runs a ``QuotaManager`` with the registry attached over the quota tables of the same
/// SQLite file, so a tenant's limits are its overrides, else its tier's defaults, in its time
/// zone.
enum UsageCommands {
    static let group = CommandGroup(
        name: "usage",
        summary: "Prints, charges and resets the quota counters of a tenant.",
        commands: [show, charge, reset])

    private static let tenantArgument = PositionalSpec(name: "TENANT", isRequired: true, help: "the tenant id")

    static let show = Command(
        name: "usage show",
        summary: "print every quota of a tenant: used, limit, remaining, when it resets, status",
        positionals: [tenantArgument],
        details: """
            One row per quota and period. PERIOD is minute, hour, day, week or month for calendar
            windows in the tenant's time zone, none for a gauge (such as storage_bytes), and lease for
            a concurrency quota, whose USED counts the leases held now. The bar and percentage are
            rounded down; a limit of 0 shows 100%. STATUS is ok, warning from 80% of the limit, or
            exhausted when no unit is left. Works for a tenant in any status.
            """,
        run: runShow)

    static let charge = Command(
        name: "usage charge",
        summary: "charge an amount to one quota of a tenant, as the application would",
        positionals: [
            tenantArgument,
            PositionalSpec(name: "QUOTA", isRequired: true, help: "the quota name, such as debates or tokens"),
            PositionalSpec(name: "AMOUNT", isRequired: false, help: "the units to charge, 1 to \(QuotaConfig.maximumAmount) (default 1)"),
        ],
        details: """
            The charge goes to every period of the quota at once, or to none. Reaching a limit exactly
            is allowed. A charge that would pass a limit changes nothing and exits with 4, printing
            the limit, the units used and requested, and when to retry. A suspended or otherwise
            inactive tenant exits with 4, an unknown tenant with 3, and an invalid amount or an
            unknown quota name with 2. Concurrency quotas such as concurrent_debates are held by
            running work as leases and cannot be charged here.
            """,
        run: runCharge)

    static let reset = Command(
        name: "usage reset",
        summary: "remove a tenant's quota counters, of one quota or of all (for operators)",
        positionals: [
            tenantArgument,
            PositionalSpec(name: "QUOTA", isRequired: false, help: "the quota to reset (default: every quota)"),
        ],
        details: """
            Removes the stored counters and held leases, so the tenant starts again from 0, and prints
            how many it removed (a lease counts as one counter). A gauge such as storage_bytes then no longer matches the data
            stored, so reset gauges only to correct them. Works for a tenant in any status.
            """,
        run: runReset)

    // MARK: - show

    private static func runShow(_ invocation: Invocation) async throws {
        let id = try TenantID(validating: invocation.positional(0)!)
        let registry = try await invocation.openRegistry()
        let tenant = try await registry.manager.tenant(id)
        let report = try await registry.quotaManager().usage(tenantID: id)

        if invocation.json {
            try invocation.console.writeJSON(UsageReportOutput(tenant: tenant, report: report))
        } else {
            invocation.console.write(
                "Quotas of tenant '\(id)' (\(tenant.tier) tier, \(tenant.status), time zone \(tenant.timeZone)):\n\n"
                    + render(report))
        }
    }

    /// Formats usage entries as a table with a bar per quota.
    static func render(_ report: [QuotaUsage]) -> String {
        var table = TextTable("QUOTA", "PERIOD", "USED", "LIMIT", "REMAINING", "USAGE", "STATUS", "RESETS AT")
        for entry in report {
            table.append(
                entry.quota, entry.isLease ? "lease" : entry.period.rawValue, "\(entry.used)", "\(entry.limit)", "\(entry.remaining)",
                bar(percentage: entry.percentage), entry.status.rawValue, entry.resetsAt.map(JSONOutput.timestamp) ?? "-")
        }
        return table.render()
    }

    /// The width of a usage bar, in characters between the brackets.
    static let barWidth = 10

    /// Returns a bar such as `[#######---] 70%`, with one `#` per full 10% (at most 10).
    static func bar(percentage: Int) -> String {
        let filled = min(barWidth, max(0, percentage) / (100 / barWidth))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled) + "] \(percentage)%"
    }

    // MARK: - charge

    private static func runCharge(_ invocation: Invocation) async throws {
        // Every input is checked before the database is opened, so a rejected command line
        // changes nothing in the file.
        let id = try TenantID(validating: invocation.positional(0)!)
        let quota = invocation.positional(1)!
        try QuotaCatalog.validateName(quota)
        let amount = try parseAmount(invocation.positional(2) ?? "1")
        if QuotaCatalog.leaseQuotas.contains(quota) {
            throw UsageError(
                "quota '\(quota)' counts running work with leases, so it cannot be charged here; "
                    + "'tenancy usage show \(id)' prints the leases held")
        }
        let registry = try await invocation.openRegistry()
        let quotas = try registry.quotaManager()

        let charge: QuotaCharge
        do {
            charge = try await quotas.checkAndIncrement(quota, tenantID: id, by: amount)
        } catch let refusal as QuotaExceeded {
            if invocation.json {
                try invocation.console.writeJSON(ChargeOutput(refusal: refusal, amount: amount))
            }
            throw refusal
        }

        if invocation.json {
            try invocation.console.writeJSON(ChargeOutput(charge: charge, quota: quota, amount: amount))
            return
        }
        var table = TextTable("PERIOD", "USED", "LIMIT", "REMAINING", "RESETS AT")
        for (line, used) in zip(charge.lines, charge.usedAfter) {
            table.append(
                line.key.period.rawValue, "\(used)", "\(line.limit)", "\(max(0, line.limit - used))",
                line.window.end.map(JSONOutput.timestamp) ?? "-")
        }
        let units = amount == 1 ? "unit" : "units"
        invocation.console.write("Charged \(amount) \(units) to quota '\(quota)' of tenant '\(id)'.\n\n" + table.render())
    }

    /// Parses the AMOUNT argument: a whole number from 1 to ``QuotaConfig/maximumAmount``.
    static func parseAmount(_ text: String) throws(UsageError) -> Int {
        guard let amount = Int(text), (1...QuotaConfig.maximumAmount).contains(amount) else {
            throw UsageError(
                "invalid AMOUNT '\(ArgumentParser.displayed(text))': expected a whole number from 1 to \(QuotaConfig.maximumAmount)")
        }
        return amount
    }

    /// Returns the line printed after a ``QuotaExceeded`` error: when the window resets, or
    /// why waiting does not help.
    static func refusalDetails(_ refusal: QuotaExceeded) -> String {
        if let resetsAt = refusal.resetsAt, refusal.retryAfter != nil {
            return "The \(refusal.period) window of quota '\(refusal.quotaName)' resets at \(JSONOutput.timestamp(resetsAt))."
        }
        if refusal.period == .none {
            return "Quota '\(refusal.quotaName)' is a gauge: it goes down only when the application releases units."
        }
        return "The request is larger than the whole limit, so waiting does not help."
    }

    // MARK: - reset

    private static func runReset(_ invocation: Invocation) async throws {
        let id = try TenantID(validating: invocation.positional(0)!)
        let quota = invocation.positional(1)
        if let quota {
            try QuotaCatalog.validateName(quota)
        }
        let registry = try await invocation.openRegistry()
        let removed = try await registry.quotaManager().reset(tenantID: id, quota: quota)

        if invocation.json {
            try invocation.console.writeJSON(ResetOutput(tenantID: id.rawValue, quota: quota, removed: removed))
            return
        }
        let counters = removed == 1 ? "counter" : "counters"
        let scope = quota.map { "quota '\($0)'" } ?? "every quota"
        invocation.console.write("Reset \(scope) of tenant '\(id)': removed \(removed) \(counters).")
    }
}
