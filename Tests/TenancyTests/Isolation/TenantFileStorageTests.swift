import Foundation
import Tenancy
import Testing

@Suite("Tenant file storage")
struct TenantFileStorageTests {
    let root: URL
    let storage: TenantFileStorage
    let alpha = Tenant(id: "alpha", name: "Alpha", tier: .starter)
    let beta = Tenant(id: "beta", name: "Beta", tier: .starter)

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-files-\(UUID().uuidString)")
        storage = try TenantFileStorage(root: root.path)
    }

    @Test("invalid names are rejected and write nothing", arguments: [
        "../x", "/etc/passwd", "a/../../b", "a\0b", "", "a//b", "a/", "./a", "a\\b", ".tenancy-tmp-x",
    ])
    func invalidNames(name: String) async throws {
        defer { try? FileManager.default.removeItem(at: root) }

        let error = try await TenantContext.withTenant(alpha) { _ in
            #expect(throws: TenantFileError.self) { try storage.write(Data("x".utf8), to: name) }
        }

        #expect(error?.code == .invalidName)
        #expect(try storage.usage(of: "alpha") == 0)
    }

    @Test("a symbolic link pointing outside the root is rejected")
    func symlinkEscape() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outside) }
        try Data("secret".utf8).write(to: outside.appendingPathComponent("secret.txt"))
        _ = try await TenantContext.withTenant(alpha) { _ in try storage.write(Data("x".utf8), to: "seed.txt") }
        try FileManager.default.createSymbolicLink(at: storage.directory(of: "alpha").appendingPathComponent("escape"), withDestinationURL: outside)
        try FileManager.default.createSymbolicLink(
            at: storage.directory(of: "alpha").appendingPathComponent("link.txt"), withDestinationURL: outside.appendingPathComponent("secret.txt"))

        try await TenantContext.withTenant(alpha) { _ in
            let readThrough = #expect(throws: TenantFileError.self) { try storage.read("escape/secret.txt") }
            let writeThrough = #expect(throws: TenantFileError.self) { try storage.write(Data("y".utf8), to: "escape/new.txt") }
            let readLink = #expect(throws: TenantFileError.self) { try storage.read("link.txt") }
            let overwriteLink = #expect(throws: TenantFileError.self) { try storage.write(Data("y".utf8), to: "link.txt") }
            #expect(readThrough?.code == .invalidName)
            #expect(writeThrough?.code == .invalidName)
            #expect(readLink?.code == .invalidName)
            #expect(overwriteLink?.code == .invalidName)
        }
        #expect(try String(decoding: Data(contentsOf: outside.appendingPathComponent("secret.txt")), as: UTF8.self) == "secret")
        #expect(!FileManager.default.fileExists(atPath: outside.appendingPathComponent("new.txt").path))
    }

    @Test("nested paths work and usage counts bytes per tenant")
    func nestedPaths() async throws {
        defer { try? FileManager.default.removeItem(at: root) }

        let delta = try await TenantContext.withTenant(alpha) { _ in
            try storage.write(Data(repeating: 1, count: 100), to: "reports/2026/q4.bin")
        }
        let replaced = try await TenantContext.withTenant(alpha) { _ in
            try storage.write(Data(repeating: 2, count: 40), to: "reports/2026/q4.bin")
        }
        let content = try await TenantContext.withTenant(alpha) { _ in try storage.read("reports/2026/q4.bin") }
        let listed = try await TenantContext.withTenant(alpha) { _ in try storage.list() }
        let betaSees = try await TenantContext.withTenant(beta) { _ in
            #expect(throws: TenantFileError.self) { try storage.read("reports/2026/q4.bin") }
        }

        #expect(delta == 100)
        #expect(replaced == -60)
        #expect(content == Data(repeating: 2, count: 40))
        #expect(listed == ["reports/2026/q4.bin"])
        #expect(try storage.usage(of: "alpha") == 40)
        #expect(try storage.usage(of: "beta") == 0)
        #expect(betaSees?.code == .notFound)
    }

    @Test("purge removes everything of one tenant and nothing else")
    func purge() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        for (tenant, count) in [(alpha, 3), (beta, 2)] {
            try await TenantContext.withTenant(tenant) { _ in
                for index in 0..<count { try storage.write(Data("file \(index)".utf8), to: "dir/file-\(index).txt") }
            }
        }

        let removed = try await TenantFilePurger(storage).purge("alpha")

        #expect(removed == 3)
        #expect(!FileManager.default.fileExists(atPath: storage.directory(of: "alpha").path))
        #expect(try storage.usage(of: "beta") == 12)
        let betaFiles = try await TenantContext.withTenant(beta) { _ in try storage.list() }
        #expect(betaFiles == ["dir/file-0.txt", "dir/file-1.txt"])
    }

    @Test("file operations need a tenant in scope")
    func needsTenant() throws {
        defer { try? FileManager.default.removeItem(at: root) }

        #expect(throws: NoTenantInScopeError.self) { try storage.write(Data("x".utf8), to: "a.txt") }
        #expect(throws: NoTenantInScopeError.self) { try storage.read("a.txt") }
    }
}
