import Foundation
import Synchronization

/// A small pool over one SQLite file: one writer connection and several readers.
///
/// Writes go through ``write(_:)``, which opens `BEGIN IMMEDIATE`, so write transactions from
/// this and other processes queue on the file lock (waiting up to the busy timeout) instead of
/// failing. Reads go to the readers in turn; WAL lets them run beside the writer.
public final class SQLiteDatabase: Sendable {
    /// The database file path.
    public let path: String
    let writer: SQLiteConnection
    let readers: [SQLiteConnection]
    private let nextReader = Atomic<Int>(0)

    /// Opens the database file at `path`, creating it when missing.
    ///
    /// - Parameters:
    ///   - readers: the number of read connections, 1 or more.
    ///   - busyTimeout: how long a statement waits for a lock held by another connection.
    ///   - synchronous: `FULL` (default) or `NORMAL`; see ``SQLiteConnection/init(path:readOnly:busyTimeout:synchronous:)``.
    public init(path: String, readers: Int = 2, busyTimeout: Duration = .seconds(5), synchronous: String = "FULL") throws {
        guard readers >= 1 else {
            throw SQLiteError(code: .misuse, message: "invalid reader count \(readers): expected 1 or more", operation: "open")
        }
        guard !path.isEmpty, path != ":memory:", !path.hasPrefix("file:") else {
            throw SQLiteError(code: .cantOpen, message: "invalid database path: expected a file path (the pool shares one file between connections)", operation: "open")
        }
        self.path = path
        self.writer = try SQLiteConnection(path: path, busyTimeout: busyTimeout, synchronous: synchronous)
        self.readers = try (0..<readers).map { _ in
            try SQLiteConnection(path: path, readOnly: true, busyTimeout: busyTimeout, synchronous: synchronous)
        }
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction on the writer: commits when it returns,
    /// rolls back when it throws.
    @discardableResult
    public func write<Result: Sendable>(_ body: @Sendable (isolated SQLiteConnection) throws -> Result) async throws -> Result {
        try await writer.transaction(.immediate, body)
    }

    /// Runs `body` on a reader connection. Each statement sees a consistent snapshot; use
    /// ``readTransaction(_:)`` when several statements must see the same one.
    public func read<Result: Sendable>(_ body: @Sendable (isolated SQLiteConnection) throws -> Result) async throws -> Result {
        try await reader().withConnection(body)
    }

    /// Runs `body` in a read transaction on a reader, so all its statements see one snapshot.
    public func readTransaction<Result: Sendable>(_ body: @Sendable (isolated SQLiteConnection) throws -> Result) async throws -> Result {
        try await reader().transaction(.deferred, body)
    }

    func reader() -> SQLiteConnection {
        let index = nextReader.add(1, ordering: .relaxed).oldValue
        return readers[abs(index % readers.count)]
    }
}
