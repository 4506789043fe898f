import Dispatch
public import Foundation
public import Tenancy
import Synchronization

/// A clock that follows the PostgreSQL server's clock without a round trip per reading.
///
/// It reads the local monotonic clock and adds an offset measured against the server's
/// `clock_timestamp()`: when it is created, and again every ``refreshInterval``. Each
/// measurement takes several samples and keeps the one with the shortest round trip, and
/// assumes the server read its clock at the midpoint of that round trip, so the offset is off
/// by at most half of ``roundTrip``. Processes on machines whose wall clocks disagree by
/// minutes still compute the same quota windows and lease expiries, because none of them uses
/// its wall clock.
///
/// Between measurements the reading drifts with the local oscillator (an estimate for common
/// hardware: tens of microseconds per minute). When a refresh fails, the clock keeps the last offset and reports the error to
/// the log handler. Readings may step back by the size of a correction after a refresh.
/// Exactness of quota counts never depends on this clock, because each decision is one
/// atomic statement. The clock only picks the window a decision counts in.
public final class PostgresAlignedClock: TenancyClock {
    /// One offset measurement.
    public struct Measurement: Sendable, Hashable {
        /// Server time minus local monotonic time, in nanoseconds.
        public let offsetNanoseconds: Int64
        /// The round trip of the sample the offset comes from; the offset is off by at most half.
        public let roundTrip: Duration
    }

    /// How often the offset is measured again.
    public let refreshInterval: Duration

    private let database: PostgresDatabase
    private let samples: Int
    private let localNanoseconds: @Sendable () -> Int64
    private let logHandler: (any TenancyLogHandler)?
    private let current: Mutex<Measurement>
    private let refresher = Mutex<Task<Void, Never>?>(nil)

    /// Measures the offset and starts refreshing it in the background.
    ///
    /// - Parameters:
    ///   - database: any pool on the server whose clock the stores share (the application
    ///     role's pool is fine; the statement reads no table).
    ///   - refreshInterval: how often to measure again, more than zero; 60 seconds by default.
    ///   - samples: round trips per measurement, 1 or more; the shortest one is kept.
    ///   - localNanoseconds: the local monotonic clock, in nanoseconds from any origin. The
    ///     default is `CLOCK_MONOTONIC` through Dispatch. Tests pass a shifted one to model a
    ///     machine whose clock is off.
    ///   - logHandler: where failed refreshes are reported, at level `warning`.
    /// - Throws: ``PostgresError`` when the first measurement fails; `ValidationError` for an
    ///   invalid interval or sample count.
    public init(
        database: PostgresDatabase,
        refreshInterval: Duration = .seconds(60),
        samples: Int = 5,
        localNanoseconds: @escaping @Sendable () -> Int64 = PostgresAlignedClock.monotonicNanoseconds,
        logHandler: (any TenancyLogHandler)? = nil
    ) async throws {
        guard refreshInterval > .zero else {
            throw ValidationError(.invalidArgument, field: "refresh interval", message: "invalid refresh interval \(refreshInterval): expected more than zero")
        }
        guard samples >= 1 else {
            throw ValidationError(.invalidArgument, field: "samples", message: "invalid sample count \(samples): expected 1 or more")
        }
        self.database = database
        self.refreshInterval = refreshInterval
        self.samples = samples
        self.localNanoseconds = localNanoseconds
        self.logHandler = logHandler
        self.current = Mutex(try await Self.measure(database, samples: samples, localNanoseconds: localNanoseconds))
        startRefreshing()
    }

    deinit {
        refresher.withLock { $0?.cancel() }
    }

    /// The local monotonic clock (`CLOCK_MONOTONIC`), in nanoseconds since an unspecified start.
    @Sendable public static func monotonicNanoseconds() -> Int64 {
        Int64(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds)
    }

    public func now() -> Date {
        let nanoseconds = localNanoseconds() &+ current.withLock { $0.offsetNanoseconds }
        return Date(timeIntervalSince1970: Double(nanoseconds) / 1e9)
    }

    /// The measurement in use.
    public var measurement: Measurement { current.withLock { $0 } }

    /// Measures the offset now and uses the result from the next reading on.
    ///
    /// - Throws: ``PostgresError`` when the server cannot be reached; the old offset stays.
    public func refresh() async throws {
        let measured = try await Self.measure(database, samples: samples, localNanoseconds: localNanoseconds)
        current.withLock { $0 = measured }
    }

    /// Stops the background refresh; the last offset stays in use.
    public func stopRefreshing() {
        refresher.withLock { task in
            task?.cancel()
            task = nil
        }
    }

    private func startRefreshing() {
        let interval = refreshInterval
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                guard let self else { return }
                do {
                    try await self.refresh()
                } catch {
                    if let handler = self.logHandler, handler.minimumLevel <= .warning {
                        handler.log(
                            level: .warning, message: "clock offset refresh failed; keeping the last offset",
                            metadata: ["error": "\(error)", "clock.round_trip": "\(self.measurement.roundTrip)"])
                    }
                }
            }
        }
        refresher.withLock { $0 = task }
    }

    /// Takes `samples` readings of the server clock on one connection and returns the offset
    /// of the one with the shortest round trip.
    static func measure(_ database: PostgresDatabase, samples: Int, localNanoseconds: @escaping @Sendable () -> Int64) async throws -> Measurement {
        try await database.withConnection { connection in
            var best: (offset: Int64, roundTrip: Int64)?
            for _ in 0..<samples {
                let sent = localNanoseconds()
                let rows = try connection.query("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::int8 AS micros")
                let received = localNanoseconds()
                guard let micros = try rows.first?.integer("micros") else {
                    throw PostgresError(.protocolViolation, operation: "measure clock offset", message: "clock_timestamp() returned no row")
                }
                let roundTrip = received - sent
                let midpoint = sent + roundTrip / 2
                if best == nil || roundTrip < best!.roundTrip {
                    best = (micros * 1_000 - midpoint, roundTrip)
                }
            }
            return Measurement(offsetNanoseconds: best!.offset, roundTrip: .nanoseconds(best!.roundTrip))
        }
    }
}
