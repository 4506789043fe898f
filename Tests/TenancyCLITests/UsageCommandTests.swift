import Foundation
import TenancySQLite
import Testing

/// End-to-end tests of `usage show`, `usage charge` and `usage reset`.
@Suite struct UsageCommandTests {
    /// Creates the free-tier tenant `acme` (10 debates per day) and returns its workspace.
    func freeTenant() async throws -> Workspace {
        try await Self.waitPastDayBoundary()
        let workspace = try Workspace()
        try await workspace.createTenant(id: "acme", tier: "free")
        return workspace
    }

    /// Waits until a new UTC day has begun when less than a minute of the current one is
    /// left. These tests charge a daily quota and read it back with separate runs of the tool.
    /// In a full test run at 00:00 UTC, a read after midnight saw the new day's empty window.
    static func waitPastDayBoundary() async throws {
        let secondsIntoDay = Int(Date().timeIntervalSince1970) % 86_400
        let remaining = 86_400 - secondsIntoDay
        if remaining < 60 {
            try await Task.sleep(for: .seconds(remaining + 1))
        }
    }

    /// Returns the `usage show --json` entry of one quota period.
    func entry(_ quota: String, period: String, in workspace: Workspace) async throws -> [String: Any] {
        let result = try await workspace.run("usage", "show", "acme", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let quotas = try #require(try result.jsonObject()["quotas"] as? [[String: Any]])
        return try #require(quotas.first { $0["quota"] as? String == quota && $0["period"] as? String == period })
    }

    // MARK: - show

    @Test func showJSONListsTierLimits() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "show", "acme", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let report = try result.jsonObject()
        #expect(report["tenantID"] as? String == "acme")
        #expect(report["tier"] as? String == "free")
        #expect(report["timeZone"] as? String == "UTC")
        let quotas = try #require(report["quotas"] as? [[String: Any]])
        let names = quotas.map { "\($0["quota"] as? String ?? "?")/\($0["period"] as? String ?? "?")" }
        #expect(names == [
            "debates/day", "concurrent_debates/none", "api_requests/minute", "api_requests/day", "tokens/month",
            "storage_bytes/none", "knowledge_bytes/none", "users/none", "connectors/none",
        ])
        let storage = try #require(quotas.first { $0["quota"] as? String == "storage_bytes" })
        #expect(storage["limit"] as? Int == 1_073_741_824)
        #expect(storage["isLease"] as? Bool == false)
        #expect(storage["resetsAt"] is NSNull)
        let lease = try #require(quotas.first { $0["quota"] as? String == "concurrent_debates" })
        #expect(lease["isLease"] as? Bool == true)
        #expect(lease["limit"] as? Int == 1)
    }

    @Test func showAfterChargesCountsExactly() async throws {
        let workspace = try await freeTenant()
        let charge = try await workspace.run("usage", "charge", "acme", "debates", "8")
        #expect(charge.status == 0, "\(charge.stderr)")

        let debates = try await entry("debates", period: "day", in: workspace)
        #expect(debates["used"] as? Int == 8)
        #expect(debates["limit"] as? Int == 10)
        #expect(debates["remaining"] as? Int == 2)
        #expect(debates["percentage"] as? Int == 80)
        #expect(debates["status"] as? String == "warning")
        let resetsAt = try #require(debates["resetsAt"] as? String)
        #expect(resetsAt.hasSuffix("T00:00:00.000Z"))
    }

    @Test func showTextHasBars() async throws {
        let workspace = try await freeTenant()
        _ = try await workspace.run("usage", "charge", "acme", "debates", "7")
        _ = try await workspace.run("usage", "charge", "acme", "users", "3")

        let result = try await workspace.run("usage", "show", "acme")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "Quotas of tenant 'acme' (free tier, active, time zone UTC):")
        #expect(lines.dropFirst().first == "QUOTA               PERIOD  USED  LIMIT       REMAINING   USAGE              STATUS     RESETS AT")
        let debates = try #require(lines.first { $0.hasPrefix("debates ") })
        #expect(debates.hasPrefix("debates             day     7     10          3           [#######---] 70%   ok         20"))
        let users = try #require(lines.first { $0.hasPrefix("users ") })
        #expect(users == "users               none    3     3           0           [##########] 100%  exhausted  -")
        let tokens = try #require(lines.first { $0.hasPrefix("tokens ") })
        #expect(tokens.contains("  [----------] 0%    ok  "))
    }

    @Test func showUnknownTenant() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "show", "nobody")
        #expect(result.status == 3)
        #expect(result.stderr == "error: tenant 'nobody' not found: check the id with 'tenancy list'\n")
    }

    @Test func showInvalidTenantID() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "show", "Bad_ID")
        #expect(result.status == 2)
        #expect(result.stderr.contains("Bad_ID"))
    }

    @Test func showSuspendedTenant() async throws {
        let workspace = try await freeTenant()
        _ = try await workspace.run("usage", "charge", "acme", "debates", "2")
        _ = try await workspace.run("suspend", "acme")
        let debates = try await entry("debates", period: "day", in: workspace)
        #expect(debates["used"] as? Int == 2)
    }

    // MARK: - charge

    @Test func chargeDefaultAmountText() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "charge", "acme", "debates")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("""
            Charged 1 unit to quota 'debates' of tenant 'acme'.

            PERIOD  USED  LIMIT  REMAINING  RESETS AT
            day     1     10     9          20
            """))
    }

    @Test func chargeJSON() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "charge", "acme", "api_requests", "3", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let charge = try result.jsonObject()
        #expect(charge["charged"] as? Bool == true)
        #expect(charge["tenantID"] as? String == "acme")
        #expect(charge["quota"] as? String == "api_requests")
        #expect(charge["amount"] as? Int == 3)
        #expect(charge["refusal"] is NSNull)
        #expect((charge["chargeID"] as? String)?.count == 36)
        let counters = try #require(charge["counters"] as? [[String: Any]])
        #expect(counters.map { $0["period"] as? String } == ["minute", "day"])
        #expect(counters.map { $0["used"] as? Int } == [3, 3])
        #expect(counters.map { $0["limit"] as? Int } == [20, 1_000])
        #expect(counters.map { $0["remaining"] as? Int } == [17, 997])
        #expect(counters.map { $0["subject"] as? String } == ["tenant:acme", "tenant:acme"])
    }

    @Test func chargeRefusedAtLimit() async throws {
        let workspace = try await freeTenant()
        let fill = try await workspace.run("usage", "charge", "acme", "debates", "10")
        #expect(fill.status == 0, "\(fill.stderr)")

        let result = try await workspace.run("usage", "charge", "acme", "debates")
        #expect(result.status == 4)
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix(
            "error: quota 'debates' exceeded for tenant 'acme': 10 used + 1 requested would pass the day limit of 10; retry after "))
        #expect(result.stderr.contains("\nThe day window of quota 'debates' resets at "))
        let debates = try await entry("debates", period: "day", in: workspace)
        #expect(debates["used"] as? Int == 10)
        #expect(debates["status"] as? String == "exhausted")
    }

    @Test func chargeRefusedJSON() async throws {
        let workspace = try await freeTenant()
        _ = try await workspace.run("usage", "charge", "acme", "debates", "9")

        let result = try await workspace.run("usage", "charge", "acme", "debates", "2", "--json")
        #expect(result.status == 4)
        let output = try result.jsonObject()
        #expect(output["charged"] as? Bool == false)
        #expect(output["amount"] as? Int == 2)
        #expect(output["chargeID"] is NSNull)
        #expect((output["counters"] as? [Any])?.isEmpty == true)
        let refusal = try #require(output["refusal"] as? [String: Any])
        #expect(refusal["quota"] as? String == "debates")
        #expect(refusal["subject"] as? String == "tenant:acme")
        #expect(refusal["period"] as? String == "day")
        #expect(refusal["limit"] as? Int == 10)
        #expect(refusal["used"] as? Int == 9)
        #expect(refusal["requested"] as? Int == 2)
        #expect(refusal["shed"] as? Bool == false)
        let retryAfter = try #require(refusal["retryAfterSeconds"] as? Int)
        #expect(retryAfter > 0)
        #expect(retryAfter <= 86_400)
        let debates = try await entry("debates", period: "day", in: workspace)
        #expect(refusal["resetsAt"] as? String == debates["resetsAt"] as? String)
        #expect(debates["used"] as? Int == 9)
    }

    @Test func chargeLargerThanLimit() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "charge", "acme", "debates", "11", "--json")
        #expect(result.status == 4)
        let refusal = try #require(try result.jsonObject()["refusal"] as? [String: Any])
        #expect(refusal["retryAfterSeconds"] is NSNull)
        #expect(result.stderr.contains("\nThe request is larger than the whole limit, so waiting does not help.\n"))
        let debates = try await entry("debates", period: "day", in: workspace)
        #expect(debates["used"] as? Int == 0)
    }

    @Test func chargeGaugeRefused() async throws {
        let workspace = try await freeTenant()
        _ = try await workspace.run("usage", "charge", "acme", "users", "3")
        let result = try await workspace.run("usage", "charge", "acme", "users")
        #expect(result.status == 4)
        #expect(result.stderr.contains("\nQuota 'users' is a gauge: it goes down only when the application releases units.\n"))
    }

    @Test(arguments: ["0", "-1", "abc", "1.5", "4611686018427387904", "99999999999999999999"])
    func chargeInvalidAmount(_ amount: String) async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "charge", "acme", "debates", amount)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix(
            "error: invalid AMOUNT '\(amount)': expected a whole number from 1 to 4611686018427387903\n"
                + "usage: tenancy usage charge TENANT QUOTA [AMOUNT] [--database URL] [--json]\n"))
        let debates = try await entry("debates", period: "day", in: workspace)
        #expect(debates["used"] as? Int == 0)
    }

    @Test func chargeUnknownQuota() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "charge", "acme", "debatez")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix(
            "error: unknown quota 'debatez': known quotas are debates, concurrent_debates, api_requests, tokens, storage_bytes, knowledge_bytes, users, connectors\n"))
    }

    @Test func chargeInvalidQuotaName() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "charge", "acme", "Debates!")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: invalid quota name \"Debates!\": expected 1 to 64 characters"))
    }

    @Test func chargeLeaseQuota() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "charge", "acme", "concurrent_debates")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: quota 'concurrent_debates' counts running work with leases, so it cannot be charged here"))
    }

    @Test func chargeUnknownTenant() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "charge", "nobody", "debates")
        #expect(result.status == 3)
        #expect(result.stderr == "error: tenant 'nobody' not found: check the id with 'tenancy list'\n")
    }

    @Test func chargeSuspendedTenant() async throws {
        let workspace = try await freeTenant()
        _ = try await workspace.run("suspend", "acme", "--reason", "billing overdue")

        let result = try await workspace.run("usage", "charge", "acme", "debates")
        #expect(result.status == 4)
        #expect(result.stderr.contains("suspended"))
        let debates = try await entry("debates", period: "day", in: workspace)
        #expect(debates["used"] as? Int == 0)
    }

    // MARK: - reset

    @Test func resetOneQuota() async throws {
        let workspace = try await freeTenant()
        _ = try await workspace.run("usage", "charge", "acme", "debates", "4")
        _ = try await workspace.run("usage", "charge", "acme", "tokens", "100")

        let result = try await workspace.run("usage", "reset", "acme", "debates")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "Reset quota 'debates' of tenant 'acme': removed 1 counter.\n")
        let debates = try await entry("debates", period: "day", in: workspace)
        let tokens = try await entry("tokens", period: "month", in: workspace)
        #expect(debates["used"] as? Int == 0)
        #expect(tokens["used"] as? Int == 100)
    }

    @Test func resetEveryQuotaJSON() async throws {
        let workspace = try await freeTenant()
        _ = try await workspace.run("usage", "charge", "acme", "debates", "4")
        _ = try await workspace.run("usage", "charge", "acme", "api_requests", "2")

        let result = try await workspace.run("usage", "reset", "acme", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let output = try result.jsonObject()
        #expect(output["tenantID"] as? String == "acme")
        #expect(output["quota"] is NSNull)
        #expect(output["removed"] as? Int == 3)
        let apiRequests = try await entry("api_requests", period: "day", in: workspace)
        #expect(apiRequests["used"] as? Int == 0)
    }

    @Test func resetEveryQuotaText() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "reset", "acme")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "Reset every quota of tenant 'acme': removed 0 counters.\n")
    }

    @Test func resetUnknownQuota() async throws {
        let workspace = try await freeTenant()
        _ = try await workspace.run("usage", "charge", "acme", "debates", "4")
        let result = try await workspace.run("usage", "reset", "acme", "debatez")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: unknown quota 'debatez'"))
        let debates = try await entry("debates", period: "day", in: workspace)
        #expect(debates["used"] as? Int == 4)
    }

    @Test func resetUnknownTenant() async throws {
        let workspace = try await freeTenant()
        let result = try await workspace.run("usage", "reset", "nobody")
        #expect(result.status == 3)
    }

    // MARK: - purge and help

    @Test func deletePurgeRemovesCounters() async throws {
        let workspace = try await freeTenant()
        _ = try await workspace.run("usage", "charge", "acme", "debates", "2")
        _ = try await workspace.run("usage", "charge", "acme", "tokens", "50")

        let result = try await workspace.run("delete", "acme", "--purge", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let steps = try #require(try result.jsonObject()["steps"] as? [[String: Any]])
        let quotas = try #require(steps.first { $0["purger"] as? String == "quotas" })
        #expect(quotas["removed"] as? Int == 2)
        let database = try SQLiteDatabase(path: workspace.databasePath)
        let remaining = try await database.read { connection in
            try connection.query("SELECT count(*) AS n FROM tenancy_quota_counters WHERE subject = 'tenant:acme'").first?.integer("n")
        }
        #expect(remaining == 0)
    }

    @Test(arguments: ["show", "charge", "reset"])
    func subcommandHelp(_ name: String) async throws {
        let viaOption = try await TenancyExecutable.run(["usage", name, "--help"])
        let viaCommand = try await TenancyExecutable.run(["help", "usage", name])
        #expect(viaOption.status == 0, "\(viaOption.stderr)")
        #expect(viaOption.stdout.hasPrefix("usage: tenancy usage \(name) TENANT"))
        #expect(viaOption.stdout.contains("--json"))
        #expect(viaCommand.stdout == viaOption.stdout)
    }

    @Test func groupHelpListsSubcommands() async throws {
        let result = try await TenancyExecutable.run(["usage", "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\n  show    print every quota of a tenant"))
        #expect(result.stdout.contains("\n  charge  charge an amount to one quota of a tenant"))
        #expect(result.stdout.contains("\n  reset   remove a tenant's quota counters"))
        let viaHelp = try await TenancyExecutable.run(["help", "usage"])
        #expect(viaHelp.stdout == result.stdout)
    }

    @Test func missingSubcommand() async throws {
        let result = try await TenancyExecutable.run(["usage"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: missing subcommand: expected show, charge or reset\n"))
    }

    @Test func unknownSubcommand() async throws {
        let result = try await TenancyExecutable.run(["usage", "list"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: unknown subcommand 'list' of 'usage': expected show, charge or reset\n"))
    }
}
