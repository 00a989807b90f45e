public import GnomonCore

/// How one run of `gnomond` is set up, read from its command line and environment.
///
/// Every option has a `GNOMON_*` environment variable; the command line wins over the
/// environment, which wins over the default. Paths and URLs are kept as given: resolving the
/// data directory and checking the database URL are left to the code that uses them.
public struct ServerConfiguration: Sendable, Equatable {
    /// How log records are written.
    public enum LogFormat: String, Sendable, CaseIterable {
        /// Text when standard error is a terminal, JSON otherwise; decided at run time.
        case auto

        /// One JSON object per line.
        case json

        /// Human-readable lines.
        case text
    }

    /// Where the embedded PostgreSQL cluster and development files live, as given.
    public var dataDirectory: String

    /// An existing PostgreSQL to use; `nil` runs the embedded one in ``dataDirectory``.
    public var databaseURL: String?

    /// A TCP port on 127.0.0.1 for the embedded PostgreSQL besides its unix socket; 0 picks one.
    public var embeddedPostgresPort: UInt16?

    /// Where clients reach the RPC server.
    public var listenAddress: HostAndPort

    /// Where Prometheus scrapes metrics and probes health and readiness.
    public var metricsListenAddress: HostAndPort

    /// This node's name among the cluster's nodes; empty means derived from host name and pid.
    public var nodeID: String

    /// The lowest level logged.
    public var logLevel: LogLevel

    /// How log records are written.
    public var logFormat: LogFormat

    /// Whether to run for development: embedded PostgreSQL and generated development credentials.
    public var isDevelopmentMode: Bool

    /// How long a shutdown waits for running work before giving up on it.
    public var shutdownTimeout: Duration

    /// The server's certificate chain and key as PEM files; both `nil` means a development
    /// certificate generated in the data folder.
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?

    /// Certificate authorities for client certificates: set to require mutual TLS.
    public var tlsClientCAFile: String?

    /// Whether TLS 1.2 (ECDHE with AEAD suites only) is accepted besides TLS 1.3.
    public var allowsTLS12 = false

    /// How long a shard or leadership lease lasts on the database's clock; a dead node's
    /// shards move to others within about this plus a third of it.
    public var leaseTTL: Duration = .seconds(5)

    /// How late a schedule's fire may be and still run as on time; a fire later than this
    /// was missed (the cluster was down, or the shard had no owner) and goes to the
    /// schedule's catch-up policy.
    public var misfireThreshold: Duration = .seconds(60)

    /// How callers' tokens are checked.
    public var auth = AuthSettings()

    /// Creates a configuration; every parameter defaults to what `gnomond` uses when not told.
    ///
    /// - Parameters:
    ///   - dataDirectory: Where the embedded PostgreSQL and development files live.
    ///   - databaseURL: An existing PostgreSQL, or `nil` for the embedded one.
    ///   - embeddedPostgresPort: A loopback TCP port for the embedded PostgreSQL, if any.
    ///   - listenAddress: Where clients reach the RPC server.
    ///   - metricsListenAddress: Where metrics, health and readiness are served.
    ///   - nodeID: This node's name, or empty to derive one.
    ///   - logLevel: The lowest level logged.
    ///   - logFormat: How log records are written.
    ///   - isDevelopmentMode: Whether to run for development.
    ///   - shutdownTimeout: How long a shutdown waits for running work.
    public init(
        dataDirectory: String = ".gnomon",
        databaseURL: String? = nil,
        embeddedPostgresPort: UInt16? = nil,
        listenAddress: HostAndPort = HostAndPort(host: "127.0.0.1", port: 7443),
        metricsListenAddress: HostAndPort = HostAndPort(host: "127.0.0.1", port: 9464),
        nodeID: String = "",
        logLevel: LogLevel = .info,
        logFormat: LogFormat = .auto,
        isDevelopmentMode: Bool = false,
        shutdownTimeout: Duration = .seconds(30)
    ) {
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.embeddedPostgresPort = embeddedPostgresPort
        self.listenAddress = listenAddress
        self.metricsListenAddress = metricsListenAddress
        self.nodeID = nodeID
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.isDevelopmentMode = isDevelopmentMode
        self.shutdownTimeout = shutdownTimeout
    }

    /// Whether `gnomond` starts its own PostgreSQL rather than connecting to one.
    public var usesEmbeddedPostgres: Bool {
        self.databaseURL == nil
    }

    /// Reads `gnomond`'s command line and environment.
    ///
    /// - Parameters:
    ///   - arguments: The arguments without the program's name.
    ///   - environment: The process environment.
    /// - Returns: What to do: run with a configuration, or print help or the version.
    /// - Throws: ``UsageError`` naming the flag or environment variable at fault.
    public static func parse(arguments: [String], environment: [String: String]) throws(UsageError)
        -> ServerCommand
    {
        switch try Self.optionParser.parse(arguments, environment: environment) {
        case .helpRequested:
            return .help(Self.optionParser.helpText())

        case .versionRequested:
            return .version(Self.versionText)

        case .parsed(let values):
            return .run(try Self(values: values))
        }
    }

    /// What `gnomond --version` prints: the release and the wire protocol it speaks.
    public static var versionText: String {
        "gnomond \(GnomonVersion.current) (protocol \(GnomonVersion.protocolName))"
    }
}

/// What a `gnomond` command line asks for.
public enum ServerCommand: Sendable, Equatable {
    /// Run the server with this configuration.
    case run(ServerConfiguration)

    /// Print this help text and exit successfully.
    case help(String)

    /// Print this version line and exit successfully.
    case version(String)
}
