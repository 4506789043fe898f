import Testing

@testable import tenancy

@Suite struct DatabaseOptionTests {
    @Test func sqlitePath() throws {
        #expect(try DatabaseLocation(parsing: "sqlite:/var/lib/tenancy.sqlite", source: "--database") == .sqlite(path: "/var/lib/tenancy.sqlite"))
    }

    @Test func sqliteRelativePath() throws {
        #expect(try DatabaseLocation(parsing: "sqlite:data/t.sqlite", source: "--database") == .sqlite(path: "data/t.sqlite"))
    }

    @Test func sqliteWithoutPath() {
        #expect(throws: UsageError("invalid --database 'sqlite:': the path is missing; expected sqlite:PATH, as in sqlite:./tenancy.sqlite")) {
            try DatabaseLocation(parsing: "sqlite:", source: "--database")
        }
    }

    @Test func postgresSchemes() throws {
        #expect(try DatabaseLocation(parsing: "postgres://app@localhost/tenancy", source: "--database") == .postgres(url: "postgres://app@localhost/tenancy"))
        #expect(
            try DatabaseLocation(parsing: "postgresql://app@localhost/tenancy", source: "--database") == .postgres(url: "postgresql://app@localhost/tenancy"))
    }

    @Test func otherSchemeNamesValueAndForms() {
        #expect(throws: UsageError("invalid TENANCY_DATABASE_URL 'mysql://localhost/t': expected sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE")) {
            try DatabaseLocation(parsing: "mysql://localhost/t", source: "TENANCY_DATABASE_URL")
        }
    }

    @Test func plainPathIsRejected() {
        #expect(throws: UsageError("invalid --database 'tenancy.sqlite': expected sqlite:PATH, as in sqlite:tenancy.sqlite or postgres://USER:PASSWORD@HOST:PORT/DATABASE")) {
            try DatabaseLocation(parsing: "tenancy.sqlite", source: "--database")
        }
    }

    @Test func passwordIsRedacted() {
        #expect(DatabaseLocation.redacted("mysql://app:s3cret@db.internal:3306/t") == "mysql://app:***@db.internal:3306/t")
    }

    @Test func userWithoutPasswordIsKept() {
        #expect(DatabaseLocation.redacted("mysql://app@db/t") == "mysql://app@db/t")
    }

    @Test func optionWinsOverEnvironment() throws {
        let location = try DatabaseLocation.resolve(option: "sqlite:a.sqlite", environment: ["TENANCY_DATABASE_URL": "sqlite:b.sqlite"])
        #expect(location == .sqlite(path: "a.sqlite"))
    }

    @Test func environmentWithoutOption() throws {
        let location = try DatabaseLocation.resolve(option: nil, environment: ["TENANCY_DATABASE_URL": "sqlite:b.sqlite"])
        #expect(location == .sqlite(path: "b.sqlite"))
    }

    @Test func defaultWithoutEither() throws {
        #expect(try DatabaseLocation.resolve(option: nil, environment: [:]) == .sqlite(path: "./tenancy.sqlite"))
    }

    @Test func emptyEnvironmentCountsAsUnset() throws {
        #expect(try DatabaseLocation.resolve(option: nil, environment: ["TENANCY_DATABASE_URL": ""]) == .sqlite(path: "./tenancy.sqlite"))
    }
}
