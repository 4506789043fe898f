import Dispatch
import Foundation
import Tenancy
import Testing
@testable import TenancySQLite

@Suite("SQLite connection and pool")
struct SQLiteConnectionTests {
    @Test("statements run on the connection's own queue")
    func runsOnOwnQueue() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let connection = try SQLiteConnection(path: directory.path("queue.sqlite"))

        let label = await connection.withConnection { _ in
            DispatchQueue.getSpecific(key: DispatchQueueExecutor.labelKey)
        }

        #expect(label == "tenancy.sqlite.writer")
    }

    @Test("connection settings are applied")
    func settings() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("settings.sqlite"))

        let values = try await database.writer.withConnection { connection in
            try ["journal_mode", "foreign_keys", "trusted_schema", "synchronous"].map { pragma in
                try connection.query("PRAGMA \(pragma)")[0].values[0]
            }
        }

        #expect(values == [.text("wal"), .integer(1), .integer(0), .integer(2)])
    }

    @Test("readers reject writes")
    func readersRejectWrites() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("readers.sqlite"))
        try await database.write { try $0.execute("CREATE TABLE items (id INTEGER PRIMARY KEY)") }

        await #expect(throws: SQLiteError.self) {
            try await database.read { try $0.execute("INSERT INTO items (id) VALUES (1)") }
        }
        let count = try await database.read { try $0.query("SELECT count(*) AS n FROM items")[0].integer("n") }
        #expect(count == 0)
    }

    @Test("a failed write transaction rolls back")
    func rollback() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("rollback.sqlite"))
        try await database.write { try $0.execute("CREATE TABLE items (id INTEGER PRIMARY KEY)") }

        await #expect(throws: SQLiteError.self) {
            try await database.write { connection in
                try connection.execute("INSERT INTO items (id) VALUES (1)")
                try connection.execute("INSERT INTO items (id) VALUES (1)")
            }
        }

        let count = try await database.read { try $0.query("SELECT count(*) AS n FROM items")[0].integer("n") }
        #expect(count == 0)
    }

    @Test("execute returns the number of changed rows")
    func changedRows() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("changes.sqlite"))

        let changed = try await database.write { connection in
            try connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, flag INTEGER)")
            for id in 1...5 {
                try connection.execute("INSERT INTO items (id, flag) VALUES (?, 0)", [.integer(Int64(id))])
            }
            return try connection.execute("UPDATE items SET flag = 1 WHERE id <= ?", [.integer(3)])
        }

        #expect(changed == 3)
    }

    @Test("error descriptions leave out bound values and SQL")
    func errorsHideValues() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("errors.sqlite"))
        try await database.write { try $0.execute("CREATE TABLE secrets (value TEXT PRIMARY KEY)") }
        try await database.write { try $0.execute("INSERT INTO secrets (value) VALUES (?)", ["s3cret-value"]) }

        let error = await #expect(throws: SQLiteError.self) {
            try await database.write { try $0.execute("INSERT INTO secrets (value) VALUES (?)", ["s3cret-value"]) }
        }

        #expect(error?.code == .constraintPrimaryKey)
        #expect(error?.code.primary == .constraint)
        #expect(error?.description.contains("s3cret-value") == false)
        #expect(error?.description.contains("INSERT") == false)
        #expect(error?.debugDescription.contains("INSERT INTO secrets") == true)
    }

    @Test("a wrong argument count is rejected before running")
    func argumentCount() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("arguments.sqlite"))

        let error = await #expect(throws: SQLiteError.self) {
            try await database.read { try $0.query("SELECT ? + ?", [.integer(1)]) }
        }

        #expect(error?.code == .range)
    }

    @Test("an in-memory path is rejected")
    func inMemoryRejected() throws {
        let error = #expect(throws: SQLiteError.self) {
            try SQLiteDatabase(path: ":memory:")
        }
        #expect(error?.code == .cantOpen)
    }

    @Test("migrations apply once, also from two pools at once")
    func migrationsOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("migrations.sqlite")
        let migrations = [
            SQLiteMigration(version: 1, name: "create", sql: "CREATE TABLE m (id INTEGER PRIMARY KEY)"),
            SQLiteMigration(version: 2, name: "add column", sql: "ALTER TABLE m ADD COLUMN note TEXT"),
        ]
        let first = try SQLiteDatabase(path: path)
        let second = try SQLiteDatabase(path: path)

        async let one: Void = first.migrate(component: "test", migrations)
        async let two: Void = second.migrate(component: "test", migrations)
        _ = try await (one, two)
        try await first.migrate(component: "test", migrations)

        let versions = try await first.read { connection in
            try connection.query("SELECT version FROM tenancy_migrations WHERE component = 'test' ORDER BY version")
                .map { try $0.integer("version") }
        }
        #expect(versions == [1, 2])
    }
}
