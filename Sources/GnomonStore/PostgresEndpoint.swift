import Foundation

/// How to reach a running PostgreSQL server, over its unix socket and optionally over TCP.
///
/// Printing an endpoint never shows its password.
public struct PostgresEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The folder holding the server's unix socket.
    public var socketDirectory: String
    /// The server's port, which also names the socket file `.s.PGSQL.<port>`.
    public var port: Int
    /// Whether the server also listens on 127.0.0.1 at ``port``.
    public var listensOnTCP: Bool
    /// The user to connect as.
    public var user: String
    /// The database to connect to.
    public var database: String
    /// The user's password, needed for TCP connections; `nil` when TCP is off.
    public var password: String?

    /// Creates an endpoint.
    public init(
        socketDirectory: String,
        port: Int,
        listensOnTCP: Bool,
        user: String,
        database: String,
        password: String? = nil
    ) {
        self.socketDirectory = socketDirectory
        self.port = port
        self.listensOnTCP = listensOnTCP
        self.user = user
        self.database = database
        self.password = password
    }

    /// A libpq key=value connection string over the unix socket.
    public var socketConnectionString: String {
        ConnectionInfo.format([
            ("host", self.socketDirectory),
            ("port", String(self.port)),
            ("user", self.user),
            ("dbname", self.database),
        ])
    }

    /// A libpq key=value connection string over TCP to 127.0.0.1; `nil` when TCP is off.
    public var tcpConnectionString: String? {
        guard self.listensOnTCP else {
            return nil
        }
        var pairs = [
            ("host", "127.0.0.1"),
            ("port", String(self.port)),
            ("user", self.user),
            ("dbname", self.database),
        ]
        if let password = self.password {
            pairs.append(("password", password))
        }
        return ConnectionInfo.format(pairs)
    }

    /// The socket, port, user and database, with the password left out.
    public var description: String {
        let tcp = self.listensOnTCP ? "127.0.0.1:\(self.port)" : "off"
        return "PostgresEndpoint(socket: \(self.socketDirectory), port: \(self.port), tcp: \(tcp), "
            + "user: \(self.user), database: \(self.database))"
    }
}

/// Writing libpq key=value connection strings.
enum ConnectionInfo {
    /// Joins keyword/value pairs, quoting each value as libpq requires.
    static func format(_ pairs: [(String, String)]) -> String {
        pairs.map { "\($0.0)=\(self.quote($0.1))" }.joined(separator: " ")
    }

    /// Returns a value bare when libpq reads it unchanged, else single-quoted and escaped.
    ///
    /// libpq needs quotes around empty values and values with white space, and a backslash
    /// before every quote and backslash.
    static func quote(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0.isWhitespace || $0 == "'" || $0 == "\\" }
        guard needsQuotes else {
            return value
        }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        return "'" + escaped + "'"
    }
}
