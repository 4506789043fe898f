import Foundation
import Tenancy
import Testing

/// `TenantFileStorage` with a `QuotaManager`: the `storage_bytes` gauge follows the stored bytes.
@Suite("Tenant file storage with a storage quota")
struct TenantFileStorageQuotaTests {
    let root: URL
    let quotas: QuotaManager
    let storage: TenantFileStorage
    let alpha = Tenant(id: "alpha", name: "Alpha", tier: .starter)

    /// The `storage_bytes` limit of every tenant in these tests.
    static let limit = 100

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-files-\(UUID().uuidString)")
        quotas = try QuotaManager(QuotaConfig(maxStorageBytes: Self.limit))
        storage = try TenantFileStorage(root: root.path, quotas: quotas)
    }

    /// Returns the `storage_bytes` gauge of `alpha`.
    func storedBytes() async throws -> Int {
        let report = try await quotas.usage(tenantID: alpha.id)
        return try #require(report.first { $0.quota == QuotaCatalog.storageBytes }).used
    }

    @Test("a write charges its bytes")
    func writeCharges() async throws {
        defer { try? FileManager.default.removeItem(at: root) }

        let change = try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 1, count: 60), to: "a.bin")
        }

        #expect(change == 60)
        #expect(try await storedBytes() == 60)
        #expect(try storage.usage(of: alpha.id) == 60)
    }

    @Test("a write up to the limit exactly is admitted")
    func writeReachesLimit() async throws {
        defer { try? FileManager.default.removeItem(at: root) }

        try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 1, count: 60), to: "a.bin")
            try await storage.write(Data(repeating: 2, count: 40), to: "b.bin")
        }

        #expect(try await storedBytes() == 100)
        #expect(try storage.usage(of: alpha.id) == 100)
    }

    @Test("a write over the quota is refused and stores nothing")
    func writeOverQuota() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 1, count: 60), to: "a.bin")
        }

        let refusal = try await TenantContext.withTenant(alpha) { _ in
            await #expect(throws: QuotaExceeded.self) {
                try await storage.write(Data(repeating: 2, count: 41), to: "b.bin")
            }
        }

        #expect(refusal?.quotaName == "storage_bytes")
        #expect(refusal?.used == 60)
        #expect(refusal?.requested == 41)
        #expect(refusal?.limit == 100)
        #expect(refusal?.retryAfter == nil)
        #expect(try await storedBytes() == 60)
        #expect(try storage.usage(of: alpha.id) == 60)
        let names = try await TenantContext.withTenant(alpha) { _ in try storage.list() }
        #expect(names == ["a.bin"])
    }

    @Test("a refused replacement keeps the old file")
    func refusedReplacementKeepsOldFile() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 1, count: 60), to: "a.bin")
        }

        let refusal = try await TenantContext.withTenant(alpha) { _ in
            await #expect(throws: QuotaExceeded.self) {
                try await storage.write(Data(repeating: 2, count: 101), to: "a.bin")
            }
        }
        let content = try await TenantContext.withTenant(alpha) { _ in try storage.read("a.bin") }

        #expect(refusal?.requested == 41)
        #expect(content == Data(repeating: 1, count: 60))
        #expect(try await storedBytes() == 60)
    }

    @Test("a write of a nested name refused by the quota creates no directory")
    func refusedWriteCreatesNoDirectory() async throws {
        defer { try? FileManager.default.removeItem(at: root) }

        let refusal = try await TenantContext.withTenant(alpha) { _ in
            await #expect(throws: QuotaExceeded.self) {
                try await storage.write(Data(repeating: 1, count: 101), to: "reports/q4.bin")
            }
        }

        #expect(refusal?.used == 0)
        #expect(!FileManager.default.fileExists(atPath: storage.directory(of: alpha.id).path))
        #expect(try await storedBytes() == 0)
    }

    @Test("a shrinking write frees quota")
    func shrinkFreesQuota() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 1, count: 90), to: "a.bin")
        }

        let change = try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 2, count: 30), to: "a.bin")
        }
        let afterShrink = try await storedBytes()
        let grown = try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 3, count: 70), to: "b.bin")
        }

        #expect(change == -60)
        #expect(afterShrink == 30)
        #expect(grown == 70)
        #expect(try await storedBytes() == 100)
        #expect(try storage.usage(of: alpha.id) == 100)
    }

    @Test("a replacement charges only its growth")
    func replacementChargesGrowth() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 1, count: 80), to: "a.bin")
        }

        let change = try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 2, count: 100), to: "a.bin")
        }

        #expect(change == 20)
        #expect(try await storedBytes() == 100)
    }

    @Test("delete frees quota")
    func deleteFreesQuota() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 1, count: 70), to: "a.bin")
            try await storage.write(Data(repeating: 2, count: 20), to: "b.bin")
        }

        let freed = try await TenantContext.withTenant(alpha) { _ in try await storage.delete("a.bin") }
        let missing = try await TenantContext.withTenant(alpha) { _ in try await storage.delete("a.bin") }

        #expect(freed == 70)
        #expect(missing == nil)
        #expect(try await storedBytes() == 20)
        #expect(try storage.usage(of: alpha.id) == 20)
    }

    @Test("a failed write refunds its charge")
    func failedWriteRefunds() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try await TenantContext.withTenant(alpha) { _ in
            try await storage.write(Data(repeating: 1, count: 10), to: "dir/a.bin")
        }

        // `dir` is a directory, so the rename into place fails after the charge.
        let failure = try await TenantContext.withTenant(alpha) { _ in
            await #expect(throws: TenantFileError.self) {
                try await storage.write(Data(repeating: 2, count: 50), to: "dir")
            }
        }

        #expect(failure?.code == .invalidName)
        #expect(try await storedBytes() == 10)
    }

    @Test("the synchronous forms are refused on storage with quotas")
    func synchronousFormsRefused() async throws {
        defer { try? FileManager.default.removeItem(at: root) }

        let (writeError, deleteError) = try await TenantContext.withTenant(alpha) { _ in
            let write = #expect(throws: TenantFileError.self) { () throws -> Int in
                try storage.write(Data("x".utf8), to: "a.txt")
            }
            let delete = #expect(throws: TenantFileError.self) { () throws -> Int? in
                try storage.delete("a.txt")
            }
            return (write, delete)
        }

        #expect(writeError?.code == .quotaNotCharged)
        #expect(deleteError?.code == .quotaNotCharged)
        #expect(try storage.usage(of: alpha.id) == 0)
    }

    @Test("with a registry the tier's storage limit applies")
    func registryTierLimit() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let manager = TenantManager()
        var config = TenantConfig()
        config.storageQuotaBytes = 50
        let tenant = try await manager.createTenant(name: "Gamma", tier: .free, adminEmail: "admin@gamma.example", config: config)
        let registryQuotas = try QuotaManager(tenants: manager)
        let files = try TenantFileStorage(root: root.path, quotas: registryQuotas)

        let refusal = try await manager.withTenant(tenant.id) { _ in
            try await files.write(Data(repeating: 1, count: 50), to: "a.bin")
            return await #expect(throws: QuotaExceeded.self) {
                try await files.write(Data(repeating: 2, count: 1), to: "b.bin")
            }
        }

        #expect(refusal?.limit == 50)
        #expect(refusal?.used == 50)
        #expect(try files.usage(of: tenant.id) == 50)
    }
}
