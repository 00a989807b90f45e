import GnomonCore
import GnomonServer
import Testing

/// Parses a command line that is expected to run the server.
private func configuration(
    _ arguments: [String],
    _ environment: [String: String] = [:]
) throws -> ServerConfiguration {
    let command = try ServerConfiguration.parse(arguments: arguments, environment: environment)
    guard case .run(let configuration) = command else {
        throw UsageError(code: .unexpectedArgument, message: "expected a configuration, got \(command)")
    }
    return configuration
}

/// Returns the usage error a command line is refused with, or `nil` when it is accepted.
private func usageError(_ arguments: [String], _ environment: [String: String] = [:]) -> UsageError? {
    do {
        _ = try ServerConfiguration.parse(arguments: arguments, environment: environment)
        return nil
    } catch {
        return error
    }
}

/// Every option of gnomond with its environment variable.
private let optionsAndVariables = [
    ("--data-dir", "GNOMON_DATA_DIR"),
    ("--database-url", "GNOMON_DATABASE_URL"),
    ("--embedded-postgres-port", "GNOMON_EMBEDDED_POSTGRES_PORT"),
    ("--listen", "GNOMON_LISTEN"),
    ("--metrics-listen", "GNOMON_METRICS_LISTEN"),
    ("--node-id", "GNOMON_NODE_ID"),
    ("--log-level", "GNOMON_LOG_LEVEL"),
    ("--log-format", "GNOMON_LOG_FORMAT"),
    ("--dev", "GNOMON_DEV"),
    ("--shutdown-timeout", "GNOMON_SHUTDOWN_TIMEOUT"),
    ("--lease-ttl", "GNOMON_LEASE_TTL"),
    ("--misfire-threshold", "GNOMON_MISFIRE_THRESHOLD"),
]

@Suite("Server configuration: values")
struct ServerConfigurationValueTests {
    @Test("uses the documented defaults when nothing is given")
    func defaults() throws {
        let parsed = try configuration([], ["HOME": "/root", "GNOMON_UNRELATED": "x"])
        #expect(parsed == ServerConfiguration())
        #expect(parsed.dataDirectory == ".gnomon")
        #expect(parsed.databaseURL == nil)
        #expect(parsed.usesEmbeddedPostgres)
        #expect(parsed.embeddedPostgresPort == nil)
        #expect(parsed.listenAddress == HostAndPort(host: "127.0.0.1", port: 7443))
        #expect(parsed.metricsListenAddress == HostAndPort(host: "127.0.0.1", port: 9464))
        #expect(parsed.nodeID == "")
        #expect(parsed.logLevel == .info)
        #expect(parsed.logFormat == .auto)
        #expect(!parsed.isDevelopmentMode)
        #expect(parsed.shutdownTimeout == .seconds(30))
        #expect(parsed.leaseTTL == .seconds(5))
    }

    @Test("reads every option from its GNOMON_ environment variable")
    func environment() throws {
        let parsed = try configuration(
            [],
            [
                "GNOMON_DATA_DIR": "/var/lib/gnomon",
                "GNOMON_EMBEDDED_POSTGRES_PORT": "5433",
                "GNOMON_LISTEN": "[::1]:8443",
                "GNOMON_METRICS_LISTEN": "0.0.0.0:9000",
                "GNOMON_NODE_ID": "node-a",
                "GNOMON_LOG_LEVEL": "debug",
                "GNOMON_LOG_FORMAT": "json",
                "GNOMON_DEV": "1",
                "GNOMON_SHUTDOWN_TIMEOUT": "1m30s",
            ]
        )
        let expected = ServerConfiguration(
            dataDirectory: "/var/lib/gnomon",
            embeddedPostgresPort: 5433,
            listenAddress: HostAndPort(host: "::1", port: 8443),
            metricsListenAddress: HostAndPort(host: "0.0.0.0", port: 9000),
            nodeID: "node-a",
            logLevel: .debug,
            logFormat: .json,
            isDevelopmentMode: true,
            shutdownTimeout: .seconds(90)
        )
        #expect(parsed == expected)
        #expect(try configuration([], ["GNOMON_DATABASE_URL": "postgresql://db/g"]).databaseURL == "postgresql://db/g")
    }

    @Test("prefers flags to environment variables")
    func flagsOverrideEnvironment() throws {
        let environment = [
            "GNOMON_DATA_DIR": "/env",
            "GNOMON_DATABASE_URL": "postgresql://env/gnomon",
            "GNOMON_LISTEN": "10.0.0.1:1",
            "GNOMON_LOG_LEVEL": "error",
            "GNOMON_LOG_FORMAT": "json",
            "GNOMON_DEV": "true",
            "GNOMON_SHUTDOWN_TIMEOUT": "1h",
        ]
        let parsed = try configuration(
            [
                "--data-dir", "/flag", "--database-url=postgresql://flag/gnomon", "--listen", "0.0.0.0:7443",
                "--log-level", "trace", "--log-format=text", "--dev=false", "--shutdown-timeout", "250ms",
            ],
            environment
        )
        #expect(parsed.dataDirectory == "/flag")
        #expect(parsed.databaseURL == "postgresql://flag/gnomon")
        #expect(!parsed.usesEmbeddedPostgres)
        #expect(parsed.listenAddress == HostAndPort(host: "0.0.0.0", port: 7443))
        #expect(parsed.logLevel == .trace)
        #expect(parsed.logFormat == .text)
        #expect(!parsed.isDevelopmentMode)
        #expect(parsed.shutdownTimeout == .milliseconds(250))
    }

    @Test("switches development mode on with --dev")
    func developmentMode() throws {
        #expect(try configuration(["--dev"]).isDevelopmentMode)
    }

    @Test("reads the lease lifetime from --lease-ttl or GNOMON_LEASE_TTL")
    func leaseTTL() throws {
        #expect(try configuration(["--lease-ttl", "2s"]).leaseTTL == .seconds(2))
        #expect(try configuration([], ["GNOMON_LEASE_TTL": "1500ms"]).leaseTTL == .milliseconds(1_500))
        #expect(try configuration(["--lease-ttl=300ms"], ["GNOMON_LEASE_TTL": "9s"]).leaseTTL == .milliseconds(300))
    }

    @Test("refuses a lease lifetime outside 300ms to 60s", arguments: ["100ms", "61s", "0s"])
    func leaseTTLOutOfRange(text: String) {
        let error = usageError(["--lease-ttl", text])
        #expect(error?.code == .invalidValue)
        #expect(error?.option == "--lease-ttl")
        #expect(error?.message == "option '--lease-ttl' must be from 300ms to 60s, such as 5s")
    }

    @Test("reads the misfire threshold from --misfire-threshold or GNOMON_MISFIRE_THRESHOLD; 60 s by default")
    func misfireThreshold() throws {
        #expect(try configuration([]).misfireThreshold == .seconds(60))
        #expect(try configuration(["--misfire-threshold", "5s"]).misfireThreshold == .seconds(5))
        #expect(try configuration([], ["GNOMON_MISFIRE_THRESHOLD": "2m"]).misfireThreshold == .seconds(120))
    }

    @Test("refuses a misfire threshold outside 1s to 24h", arguments: ["500ms", "25h", "0s"])
    func misfireThresholdOutOfRange(text: String) {
        let error = usageError(["--misfire-threshold", text])
        #expect(error?.code == .invalidValue)
        #expect(error?.option == "--misfire-threshold")
        #expect(error?.message == "option '--misfire-threshold' must be from 1s to 24h, such as 60s")
    }

    @Test("accepts port 0 for the embedded PostgreSQL, to pick a free one")
    func embeddedPortZero() throws {
        #expect(try configuration(["--embedded-postgres-port", "0"]).embeddedPostgresPort == 0)
    }
}

@Suite("Server configuration: refused command lines")
struct ServerConfigurationRefusalTests {
    @Test("refuses an embedded PostgreSQL port together with a database URL")
    func embeddedPortWithDatabaseURL() {
        let error = usageError(["--database-url", "postgresql://db/gnomon", "--embedded-postgres-port", "5433"])
        #expect(error?.code == .conflictingOptions)
        #expect(error?.option == "--embedded-postgres-port")
        #expect(
            error?.message
                == "option '--embedded-postgres-port' cannot be used with option '--database-url': "
                + "the embedded PostgreSQL runs only without a database URL"
        )
    }

    @Test("names the environment variable when the conflict comes from the environment")
    func conflictFromEnvironment() {
        let error = usageError(["--embedded-postgres-port=0"], ["GNOMON_DATABASE_URL": "postgresql://db/gnomon"])
        #expect(
            error?.message.hasPrefix(
                "option '--embedded-postgres-port' cannot be used with environment variable GNOMON_DATABASE_URL"
            ) == true
        )
    }

    @Test(
        "refuses malformed listen addresses, naming the flag",
        arguments: [
            (":", "host:port with a host, such as 0.0.0.0 or 127.0.0.1"),
            ("host:99999", "host:port with a port from 0 to 65535"),
            ("[::1", "host:port"),
            ("host", "host:port"),
        ]
    )
    func badListenAddress(text: String, expected: String) {
        let error = usageError(["--listen", text])
        #expect(error?.code == .invalidValue)
        #expect(error?.option == "--listen")
        #expect(error?.message == "option '--listen' expects \(expected), got '\(text)'")
        let metricsError = usageError(["--metrics-listen=\(text)"])
        #expect(metricsError?.message.hasPrefix("option '--metrics-listen' expects") == true)
    }

    @Test("refuses a malformed listen address from the environment, naming the variable")
    func badListenAddressFromEnvironment() {
        let error = usageError([], ["GNOMON_LISTEN": "x"])
        #expect(error?.message == "environment variable GNOMON_LISTEN expects host:port, got 'x'")
    }

    @Test("refuses an unknown log level, listing the known ones")
    func badLogLevel() {
        #expect(
            usageError(["--log-level", "loud"])?.message
                == "option '--log-level' expects one of trace, debug, info, notice, warning, error, critical, got 'loud'"
        )
    }

    @Test(
        "refuses bad values for the other typed options",
        arguments: [
            (["--log-format", "yaml"], "option '--log-format' expects one of auto, json, text, got 'yaml'"),
            (
                ["--shutdown-timeout", "30"],
                "option '--shutdown-timeout' expects a duration such as 250ms, 30s, 5m or 1h, got '30'"
            ),
            (
                ["--embedded-postgres-port", "65536"],
                "option '--embedded-postgres-port' expects a whole number from 0 to 65535, got '65536'"
            ),
            (["--database-url="], "option '--database-url' expects a non-empty value, got ''"),
            (["--data-dir="], "option '--data-dir' expects a non-empty value, got ''"),
            (["--dev=maybe"], "option '--dev' expects no value or one of 1, 0, true, false, yes, no, got 'maybe'"),
        ]
    )
    func badValues(arguments: [String], message: String) {
        #expect(usageError(arguments)?.message == message)
    }

    @Test("refuses a missing value and an unknown option with a suggestion")
    func commandLineMistakes() {
        #expect(usageError(["--data-dir"])?.message == "option '--data-dir' needs a value")
        #expect(
            usageError(["--data-dri", "x"])?.message
                == "unknown option '--data-dri' (did you mean '--data-dir'?); run 'gnomond --help' for the options"
        )
    }

    @Test("refuses positional arguments")
    func positionalArguments() {
        let error = usageError(["serve"])
        #expect(error?.code == .unexpectedArgument)
        #expect(error?.message == "unexpected argument 'serve'; gnomond takes only options, see 'gnomond --help'")
    }
}

@Suite("Server configuration: help and version")
struct ServerConfigurationHelpTests {
    @Test("answers --help and -h with help naming every option and environment variable")
    func help() throws {
        guard case .help(let text) = try ServerConfiguration.parse(arguments: ["--help"], environment: [:]) else {
            Issue.record("--help did not ask for help")
            return
        }
        #expect(text.hasPrefix("Usage: gnomond [options]\n\ngnomond — the Gnomon job scheduler server\n"))
        for (option, variable) in optionsAndVariables {
            #expect(text.contains(option), "help lacks \(option)")
            #expect(text.contains("[env: \(variable)]"), "help lacks \(variable)")
        }
        #expect(text.contains("--version"))
        #expect(text.contains("    gnomond --dev\n"))
        let serveExample = "gnomond --database-url postgresql://gnomon@db.internal/gnomon --listen 0.0.0.0:7443"
        #expect(text.contains("    \(serveExample)\n"))
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 100 })
        #expect(try ServerConfiguration.parse(arguments: ["-h"], environment: [:]) == .help(text))
    }

    @Test("answers --help even when other options are wrong")
    func helpDespiteMistakes() throws {
        let command = try ServerConfiguration.parse(arguments: ["--listen", "x", "--nope", "--help"], environment: [:])
        guard case .help = command else {
            Issue.record("expected help, got \(command)")
            return
        }
    }

    @Test("answers --version with the release and the protocol")
    func version() throws {
        let command = try ServerConfiguration.parse(arguments: ["--version"], environment: [:])
        #expect(command == .version("gnomond \(GnomonVersion.current) (protocol \(GnomonVersion.protocolName))"))
        #expect(command == .version(ServerConfiguration.versionText))
    }
}

@Suite("Server configuration: token checking")
struct ServerConfigurationAuthTests {
    @Test("reads the issuer, audience, keys, leeway and claim names")
    func authOptions() throws {
        let parsed = try configuration(
            [
                "--auth-issuer", "https://id.example.com", "--auth-audience", "jobs",
                "--auth-key", "main:ES256:/etc/gnomon/jwt.pem", "--auth-key", "ci:HS256+HS512:/etc/gnomon/ci:secret",
                "--auth-leeway", "5s", "--auth-tenant-claim", "org", "--auth-roles-claim", "groups",
                "--auth-subject-claim", "email",
            ],
            ["GNOMON_AUTH_JWKS": "/etc/gnomon/keys.json"])
        #expect(parsed.auth.issuer == "https://id.example.com")
        #expect(parsed.auth.audience == "jobs")
        #expect(parsed.auth.jwksFile == "/etc/gnomon/keys.json")
        #expect(
            parsed.auth.keyFiles == [
                AuthSettings.KeyFile(keyID: "main", algorithms: ["ES256"], path: "/etc/gnomon/jwt.pem"),
                AuthSettings.KeyFile(keyID: "ci", algorithms: ["HS256", "HS512"], path: "/etc/gnomon/ci:secret"),
            ])
        #expect(parsed.auth.leeway == .seconds(5))
        #expect(
            [parsed.auth.tenantClaim, parsed.auth.rolesClaim, parsed.auth.subjectClaim] == ["org", "groups", "email"])
    }

    @Test("defaults: no issuer, audience gnomon, a minute of leeway, claims tenant, roles and sub")
    func authDefaults() throws {
        let parsed = try configuration([])
        #expect(parsed.auth == AuthSettings())
        #expect(parsed.auth.issuer == nil && parsed.auth.audience == "gnomon" && parsed.auth.leeway == .seconds(60))
    }

    @Test(
        "a key without its kid, algorithms or path is refused, naming the expected form",
        arguments: [
            "main", "main:ES256", ":ES256:/k.pem", "main::/k.pem", "main:ES256:",
        ])
    func badKey(text: String) {
        let error = usageError(["--auth-key", text])
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("KID:ALGORITHMS:PATH") == true)
        #expect(error?.message.contains("'\(text)'") == true)
    }
}
