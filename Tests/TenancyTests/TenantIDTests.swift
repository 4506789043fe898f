import Foundation
import Testing
import Tenancy
import TenancyTesting

/// An id that `TenantID(validating:)` must reject, with the parts its message must contain.
struct InvalidIDCase: Sendable, CustomTestStringConvertible {
    let input: String
    /// The rejected value as the message quotes it, with control characters escaped.
    let quoted: String
    /// The rule the message names.
    let rule: String

    var testDescription: String { quoted }
}

let charactersRule = "only lowercase letters a-z, digits 0-9 and '-' are allowed"

let invalidIDCases: [InvalidIDCase] = [
    InvalidIDCase(input: "", quoted: "\"\"", rule: "must be 3 to 48 characters long, got 0"),
    InvalidIDCase(input: "ab", quoted: "\"ab\"", rule: "must be 3 to 48 characters long, got 2"),
    InvalidIDCase(
        input: String(repeating: "a", count: 49), quoted: "\"\(String(repeating: "a", count: 49))\"",
        rule: "must be 3 to 48 characters long, got 49"),
    InvalidIDCase(input: "Acme", quoted: "\"Acme\"", rule: charactersRule + " (no uppercase)"),
    InvalidIDCase(input: "3m-company", quoted: "\"3m-company\"", rule: "must start with a letter a-z"),
    InvalidIDCase(input: "..", quoted: "\"..\"", rule: charactersRule),
    InvalidIDCase(input: "acme..corp", quoted: "\"acme..corp\"", rule: charactersRule),
    InvalidIDCase(input: "acme/corp", quoted: "\"acme/corp\"", rule: charactersRule),
    InvalidIDCase(input: "acme\u{0}corp", quoted: "\"acme\\0corp\"", rule: charactersRule),
    InvalidIDCase(input: "acme-", quoted: "\"acme-\"", rule: "must not end with '-'"),
    InvalidIDCase(input: "acme--corp", quoted: "\"acme--corp\"", rule: "must not contain '--'"),
    InvalidIDCase(input: "o'brien", quoted: "\"o'brien\"", rule: charactersRule),
    InvalidIDCase(input: "acme' OR '1'='1", quoted: "\"acme' OR '1'='1\"", rule: charactersRule),
    InvalidIDCase(input: "café", quoted: "\"café\"", rule: charactersRule),
    InvalidIDCase(
        input: String(repeating: "é", count: 30), quoted: "\"\(String(repeating: "é", count: 30))\"",
        rule: charactersRule),
] + TenantID.reservedWords.sorted().map { word in
    InvalidIDCase(input: word, quoted: "\"\(word)\"", rule: "'\(word)' is a reserved word")
}

@Suite("Tenant ids")
struct TenantIDTests {
    @Test("Valid id is accepted unchanged", arguments: [
        "abc", "acme-corp", "t-3m-company", "a1-b2-c3", "admin-x1y2", "apis", "www2",
        "a" + String(repeating: "b", count: 47),
    ])
    func validID(text: String) throws {
        let id = try TenantID(validating: text)
        #expect(id.rawValue == text)
    }

    @Test("Invalid id is rejected with its value and rule", arguments: invalidIDCases)
    func invalidID(testCase: InvalidIDCase) throws {
        let error = try #require(throws: ValidationError.self) {
            try TenantID(validating: testCase.input)
        }
        #expect(error.code == .invalidTenantID)
        #expect(error.field == "tenant id")
        #expect(error.message.hasPrefix("invalid tenant id \(testCase.quoted): \(testCase.rule)"))
    }

    @Test("Reserved words are exactly twelve")
    func reservedWords() {
        #expect(TenantID.reservedWords == [
            "admin", "api", "app", "default", "internal", "null", "platform", "public", "root", "system",
            "tenancy", "www",
        ])
    }

    @Test("Ids order by their text")
    func ordering() {
        let ids: [TenantID] = ["globex", "acme-corp", "acme0", "acme"]
        #expect(ids.sorted() == ["acme", "acme-corp", "acme0", "globex"])
    }
}

@Suite("Tenant id derivation")
struct TenantIDDerivationTests {
    @Test("Name derives the expected id", arguments: [
        ("New Customer", "new-customer"),
        ("3M Company", "t-3m-company"),
        ("Ærøskøbing Straße", "aeroskobing-strasse"),
        ("  Acme -- Corp!! ", "acme-corp"),
        ("Zürich Dental AG", "zurich-dental-ag"),
        (String(repeating: "word ", count: 20), "word-word-word-word-word-word-word-word"),
        (String(repeating: "a", count: 100), String(repeating: "a", count: 40)),
    ])
    func derivation(name: String, expected: String) throws {
        let id = try TenantID.derived(fromName: name)
        #expect(id.rawValue == expected)
        #expect(try TenantID(validating: id.rawValue) == id)
    }

    @Test("Name of symbols only asks for an explicit id", arguments: ["!!!", "", "--", "a!", "é"])
    func symbolsOnly(name: String) throws {
        let error = try #require(throws: ValidationError.self) {
            try TenantID.derived(fromName: name)
        }
        #expect(error.code == .invalidTenantID)
        #expect(error.message.contains("pass an explicit id"))
    }

    @Test("Tenant named Admin gets a suffixed id")
    func reservedName() async throws {
        let (manager, _) = makeManager()
        let created = try await manager.createTenant(name: "Admin", tier: .free, adminEmail: "it@example.com")
        #expect(created.id.rawValue.wholeMatch(of: /admin-[a-z0-9]{4}/) != nil)
        #expect(try await manager.tenant(created.id) == created)
    }

    @Test("100-character name gives an id within 48")
    func longName() async throws {
        let (manager, _) = makeManager()
        let name = String(repeating: "Long Name ", count: 10)
        #expect(name.count == 100)

        let created = try await manager.createTenant(name: name, tier: .free, adminEmail: "it@example.com")
        #expect(created.id.rawValue.utf8.count <= 48)
        #expect(created.id.rawValue == "long-name-long-name-long-name-long-name")
        #expect(created.name == String(repeating: "Long Name ", count: 10).trimmingCharacters(in: .whitespaces))
    }

    @Test("Tenant named with symbols only is rejected")
    func symbolsOnlyName() async throws {
        let (manager, _) = makeManager()
        let error = try await #require(throws: ValidationError.self) {
            try await manager.createTenant(name: "!!!", tier: .free, adminEmail: "it@example.com")
        }
        #expect(error.code == .invalidTenantID)
        #expect(error.message.contains("pass an explicit id"))
        #expect(try await manager.listTenants().tenants == [])
    }

    @Test("Two tenants with one name get distinct ids")
    func sameName() async throws {
        let (manager, _) = makeManager()
        let first = try await manager.createTenant(name: "New Customer", tier: .business, adminEmail: "a@newcustomer.com")
        let second = try await manager.createTenant(name: "New Customer", tier: .business, adminEmail: "b@newcustomer.com")

        #expect(first.id == "new-customer")
        #expect(second.id.rawValue.wholeMatch(of: /new-customer-[a-z0-9]{4}/) != nil)
        #expect(try await manager.listTenants().tenants.map(\.id) == [first.id, second.id])
    }

    @Test("Random suffix keeps a 40-character base within 48")
    func suffixLength() throws {
        let base = try TenantID(validating: String(repeating: "b", count: 40))
        let suffixed = base.withRandomSuffix()
        #expect(suffixed.rawValue.utf8.count == 45)
        #expect(suffixed.rawValue.wholeMatch(of: /b{40}-[a-z0-9]{4}/) != nil)
    }
}
