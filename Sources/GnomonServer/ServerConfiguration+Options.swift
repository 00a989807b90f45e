import GnomonCore

extension ServerConfiguration {
    /// The parser for `gnomond`'s options, shared by every run and by the help text.
    static let optionParser = OptionParser(
        commandName: "gnomond",
        purpose: "gnomond — the Gnomon job scheduler server",
        options: Self.options,
        examples: Self.examples
    )

    /// Converts parsed values, refusing positional arguments and options that contradict.
    init(values: OptionParser.Values) throws(UsageError) {
        if let argument = values.positionals.first {
            throw UsageError(
                code: .unexpectedArgument,
                message: "unexpected argument '\(argument)'; gnomond takes only options, see 'gnomond --help'"
            )
        }
        self.init()
        try self.readStorage(values)
        try self.readNetwork(values)
        try self.readLogging(values)
        try self.readAuth(values)
        self.isDevelopmentMode = values.isSet("dev")
        self.shutdownTimeout = try values.duration("shutdown-timeout") ?? self.shutdownTimeout
        try self.readLeaseTTL(values)
        try self.readMisfireThreshold(values)
    }

    private mutating func readMisfireThreshold(_ values: OptionParser.Values) throws(UsageError) {
        guard let threshold = try values.duration("misfire-threshold") else {
            return
        }
        guard threshold >= .seconds(1), threshold <= .seconds(86_400) else {
            throw UsageError(
                code: .invalidValue,
                message: "\(values.origin(of: "misfire-threshold")) must be from 1s to 24h, such as 60s",
                option: "--misfire-threshold"
            )
        }
        self.misfireThreshold = threshold
    }

    private mutating func readLeaseTTL(_ values: OptionParser.Values) throws(UsageError) {
        guard let ttl = try values.duration("lease-ttl") else {
            return
        }
        guard ttl >= .milliseconds(300), ttl <= .seconds(60) else {
            throw UsageError(
                code: .invalidValue,
                message: "\(values.origin(of: "lease-ttl")) must be from 300ms to 60s, such as 5s",
                option: "--lease-ttl"
            )
        }
        self.leaseTTL = ttl
    }

    private mutating func readStorage(_ values: OptionParser.Values) throws(UsageError) {
        self.dataDirectory = try values.nonEmptyString("data-dir") ?? self.dataDirectory
        self.databaseURL = try values.nonEmptyString("database-url")
        self.embeddedPostgresPort = try values.integer("embedded-postgres-port", in: 0...65535).map(UInt16.init)
        guard self.databaseURL != nil, self.embeddedPostgresPort != nil else {
            return
        }
        let port = values.origin(of: "embedded-postgres-port")
        let url = values.origin(of: "database-url")
        throw UsageError(
            code: .conflictingOptions,
            message: "\(port) cannot be used with \(url): the embedded PostgreSQL runs only without a database URL",
            option: "--embedded-postgres-port"
        )
    }

    private mutating func readNetwork(_ values: OptionParser.Values) throws(UsageError) {
        self.listenAddress = try values.hostAndPort("listen") ?? self.listenAddress
        self.metricsListenAddress = try values.hostAndPort("metrics-listen") ?? self.metricsListenAddress
        self.nodeID = values.string("node-id") ?? self.nodeID
        self.tlsCertificateFile = try values.nonEmptyString("tls-certificate")
        self.tlsKeyFile = try values.nonEmptyString("tls-key")
        self.tlsClientCAFile = try values.nonEmptyString("tls-client-ca")
        self.allowsTLS12 = values.isSet("tls-allow-1.2")
        guard (self.tlsCertificateFile == nil) != (self.tlsKeyFile == nil) else {
            return
        }
        let given = self.tlsCertificateFile == nil ? "tls-key" : "tls-certificate"
        throw UsageError(
            code: .conflictingOptions,
            message: "\(values.origin(of: given)) needs its pair: give both --tls-certificate and --tls-key",
            option: "--\(given)"
        )
    }

    private mutating func readLogging(_ values: OptionParser.Values) throws(UsageError) {
        let levels = LogLevel.allCases.map(\.description)
        let level = try values.choice("log-level", from: levels).flatMap(LogLevel.init(name:))
        self.logLevel = level ?? self.logLevel
        let formats = LogFormat.allCases.map(\.rawValue)
        let format = try values.choice("log-format", from: formats).flatMap(LogFormat.init(rawValue:))
        self.logFormat = format ?? self.logFormat
    }
}

extension ServerConfiguration {
    private static var options: [OptionParser.Option] {
        let defaults = ServerConfiguration()
        return [
            .value(
                "data-dir",
                valueName: "PATH",
                default: defaults.dataDirectory,
                environment: "GNOMON_DATA_DIR",
                help: "Where the embedded PostgreSQL cluster and development files live, relative to the working "
                    + "directory unless absolute."
            ),
            .value(
                "database-url",
                valueName: "URL",
                defaultDescription: "the embedded PostgreSQL",
                environment: "GNOMON_DATABASE_URL",
                help: "An existing PostgreSQL to use, as a postgresql:// URL, instead of the embedded one."
            ),
            .value(
                "embedded-postgres-port",
                valueName: "PORT",
                defaultDescription: "unix socket only",
                environment: "GNOMON_EMBEDDED_POSTGRES_PORT",
                help: "Also open the embedded PostgreSQL on 127.0.0.1 at this TCP port; 0 picks a free one."
            ),
            .value(
                "listen",
                valueName: "HOST:PORT",
                default: defaults.listenAddress.description,
                environment: "GNOMON_LISTEN",
                help: "Where clients reach the RPC server; an IPv6 host goes in brackets, as [::1]:7443."
            ),
            .value(
                "metrics-listen",
                valueName: "HOST:PORT",
                default: defaults.metricsListenAddress.description,
                environment: "GNOMON_METRICS_LISTEN",
                help: "Where Prometheus metrics, health and readiness are served over HTTP."
            ),
            .value(
                "node-id",
                valueName: "ID",
                default: defaults.nodeID,
                defaultDescription: "host name and process id",
                environment: "GNOMON_NODE_ID",
                help: "This node's name, unique among the nodes sharing one PostgreSQL."
            ),
            .value(
                "log-level",
                valueName: "LEVEL",
                default: defaults.logLevel.description,
                environment: "GNOMON_LOG_LEVEL",
                help: "The lowest level logged: trace, debug, info, notice, warning, error or critical."
            ),
            .value(
                "log-format",
                valueName: "FORMAT",
                default: defaults.logFormat.rawValue,
                environment: "GNOMON_LOG_FORMAT",
                help: "json, text, or auto for text on a terminal and JSON otherwise."
            ),
            .value(
                "tls-certificate",
                valueName: "PEM",
                defaultDescription: "a development certificate in the data folder",
                environment: "GNOMON_TLS_CERTIFICATE",
                help: "The server's certificate chain; reloaded on SIGHUP and when the file changes."
            ),
            .value(
                "tls-key",
                valueName: "PEM",
                environment: "GNOMON_TLS_KEY",
                help: "The private key of --tls-certificate."
            ),
            .value(
                "tls-client-ca",
                valueName: "PEM",
                defaultDescription: "no client certificates",
                environment: "GNOMON_TLS_CLIENT_CA",
                help: "Require client certificates signed by these authorities (mutual TLS)."
            ),
            .flag(
                "tls-allow-1.2",
                environment: "GNOMON_TLS_ALLOW_12",
                help: "Also accept TLS 1.2, with ECDHE and AEAD cipher suites only; TLS 1.3 otherwise."
            ),
            .flag(
                "dev",
                environment: "GNOMON_DEV",
                help: "Run for development: an embedded PostgreSQL and generated development credentials."
            ),
            .value(
                "shutdown-timeout",
                valueName: "DURATION",
                default: "30s",
                environment: "GNOMON_SHUTDOWN_TIMEOUT",
                help: "How long a shutdown waits for running work, such as 30s, 2m or 1m30s."
            ),
            .value(
                "lease-ttl",
                valueName: "DURATION",
                default: "5s",
                environment: "GNOMON_LEASE_TTL",
                help: "How long shard and leader leases last on the database's clock; from 300ms to 60s."
            ),
            .value(
                "misfire-threshold",
                valueName: "DURATION",
                default: "60s",
                environment: "GNOMON_MISFIRE_THRESHOLD",
                help: "How late a schedule's fire may be and still run as on time; later fires are missed "
                    + "and handled by the schedule's catch-up policy. From 1s to 24h."
            ),
        ] + Self.authOptions
    }

    private static let examples: [OptionParser.Example] = [
        OptionParser.Example(
            "Run for development, with a PostgreSQL of its own in .gnomon:",
            command: "gnomond --dev"
        ),
        OptionParser.Example(
            "Serve clients on every interface from an existing PostgreSQL:",
            command: "gnomond --database-url postgresql://gnomon@db.internal/gnomon --listen 0.0.0.0:7443"
        ),
    ]
}
