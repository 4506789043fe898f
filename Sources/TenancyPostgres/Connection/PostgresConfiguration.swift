import Foundation

/// How to reach a PostgreSQL server, parsed from a `postgres://` URL or built field by field.
///
/// The fields go to libpq as keyword and value arrays (`PQconnectdbParams` with
/// `expand_dbname=0`), never as one conninfo string, so no field can inject another keyword.
/// ``description`` never shows the password.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: String
    public var user: String
    /// The password, or nil to let libpq look in `~/.pgpass` or use a method without one.
    public var password: String?
    /// The `application_name` the server shows in `pg_stat_activity`.
    public var applicationName: String
    /// How long connecting may take before it fails; libpq counts whole seconds (minimum 2).
    public var connectTimeout: Duration
    /// How long one statement (or one pipeline) may run before the library cancels it with
    /// `PQcancel` and throws ``PostgresError/Kind/statementTimedOut``; nil for no limit.
    public var statementTimeLimit: Duration?
    /// Further libpq connection keywords, such as `sslmode`; see ``allowedURLParameters``.
    public var parameters: [String: String]
    /// How many distinct statements each connection prepares and reuses by name, 0 for none.
    ///
    /// A statement sent through ``PostgresDatabase/query(_:_:)``, ``PostgresDatabase/execute(_:_:)``
    /// or ``PostgresDatabase/pipeline(_:)`` is parsed and planned once per connection, then
    /// executed by name. A connection prepares nothing when its role (or a role it can become)
    /// can list the session's prepared statements; see ``PostgresConnection/sendAndAwait(_:sessionReset:)``.
    public var preparedStatementCacheSize = 256

    /// The libpq keywords a URL's query string may set. Others are rejected, so a typo such as
    /// `sslmod=require` fails instead of silently connecting without TLS.
    public static let allowedURLParameters: Set<String> = [
        "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslcompression", "sslsni",
        "target_session_attrs", "options", "keepalives", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "gssencmode", "channel_binding", "application_name",
        "connect_timeout",
    ]

    public init(
        host: String, port: Int = 5432, database: String, user: String, password: String? = nil,
        applicationName: String = "tenancy", connectTimeout: Duration = .seconds(10),
        statementTimeLimit: Duration? = .seconds(30), parameters: [String: String] = [:]
    ) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.statementTimeLimit = statementTimeLimit
        self.parameters = parameters
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=require` (or
    /// `postgresql://`). User, password and database may be percent-encoded.
    ///
    /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/invalidConfiguration`` naming the
    ///   missing or invalid part; the message never contains the URL, which contains the password.
    public init(url: String) throws {
        func invalid(_ message: String) -> PostgresError {
            PostgresError(.invalidConfiguration, operation: "parse URL", message: message)
        }
        guard let components = URLComponents(string: url) else {
            throw invalid("invalid PostgreSQL URL: expected postgres://user:password@host:port/database")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw invalid("invalid PostgreSQL URL scheme: expected postgres:// or postgresql://")
        }
        guard var host = components.host, !host.isEmpty else {
            throw invalid("missing host in the PostgreSQL URL: expected postgres://user:password@host:port/database")
        }
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        guard let user = components.user.flatMap({ $0.removingPercentEncoding ?? $0 }), !user.isEmpty else {
            throw invalid("missing user in the PostgreSQL URL: expected postgres://user:password@host:port/database")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw invalid("missing or invalid database name in the PostgreSQL URL: expected one path component, as in postgres://user@host/database")
        }
        if let port = components.port, !(1...65_535).contains(port) {
            throw invalid("invalid port \(port) in the PostgreSQL URL: expected 1 to 65535")
        }
        self.init(
            host: host, port: components.port ?? 5432, database: database.removingPercentEncoding ?? database, user: user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 })

        for item in components.queryItems ?? [] {
            guard Self.allowedURLParameters.contains(item.name) else {
                throw invalid(
                    "unknown parameter '\(item.name)' in the PostgreSQL URL: expected one of \(Self.allowedURLParameters.sorted().joined(separator: ", "))")
            }
            guard let value = item.value else {
                throw invalid("parameter '\(item.name)' in the PostgreSQL URL has no value")
            }
            switch item.name {
            case "application_name":
                applicationName = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0 else {
                    throw invalid("invalid connect_timeout in the PostgreSQL URL: expected whole seconds, 1 or more")
                }
                connectTimeout = .seconds(seconds)
            default:
                parameters[item.name] = value
            }
        }
    }

    /// The keyword and value pairs for `PQconnectdbParams`.
    var keywords: [(String, String)] {
        let seconds = max(2, connectTimeout.components.seconds + (connectTimeout.components.attoseconds > 0 ? 1 : 0))
        var pairs: [(String, String)] = [
            ("host", host), ("port", String(port)), ("dbname", database), ("user", user),
            ("application_name", applicationName), ("connect_timeout", String(seconds)),
            ("client_encoding", "UTF8"),
        ]
        if let password {
            pairs.append(("password", password))
        }
        for (keyword, value) in parameters.sorted(by: { $0.key < $1.key }) {
            pairs.append((keyword, value))
        }
        return pairs
    }

    /// The URL without the password, such as `postgres://app@127.0.0.1:5432/tenancy`.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)"
    }
}
