/// The severity of a log message.
public enum TenancyLogLevel: Int, Comparable, Sendable {
    case debug, info, warning, error

    public static func < (lhs: TenancyLogLevel, rhs: TenancyLogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Where the library's log messages go; adapt it to swift-log or your own logging.
///
/// Metadata keys are dotted (`tenant.id`, `purge.purger`). The library never passes secrets,
/// SQL argument values, row contents or e-mail addresses.
public protocol TenancyLogHandler: Sendable {
    /// The lowest level the handler wants; messages below it are never built.
    var minimumLevel: TenancyLogLevel { get }
    func log(level: TenancyLogLevel, message: String, metadata: [String: String])
}

/// A logger that builds messages only when their level is enabled. The default discards all.
public struct TenancyLogger: Sendable {
    let handler: (any TenancyLogHandler)?

    /// A logger that discards every message.
    public static let disabled = TenancyLogger(handler: nil)

    public init(handler: (any TenancyLogHandler)?) {
        self.handler = handler
    }

    func log(_ level: TenancyLogLevel, _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> [String: String]) {
        guard let handler, level >= handler.minimumLevel else { return }
        handler.log(level: level, message: message(), metadata: metadata())
    }

    func info(_ message: @autoclosure () -> String, _ metadata: @autoclosure () -> [String: String] = [:]) {
        log(.info, message(), metadata())
    }

    func warning(_ message: @autoclosure () -> String, _ metadata: @autoclosure () -> [String: String] = [:]) {
        log(.warning, message(), metadata())
    }

    func error(_ message: @autoclosure () -> String, _ metadata: @autoclosure () -> [String: String] = [:]) {
        log(.error, message(), metadata())
    }
}
