import Glibc
import Testing

@testable import GnomonStore

@Suite("Embedded PostgreSQL binary discovery")
struct PostgresBinaryLocatorTests {
    /// A locator over a fake file system holding `tools` and the versioned folders `versions`.
    private func makeLocator(
        configured: String? = nil,
        environment: [String: String] = ["PATH": "/opt/a/bin:/opt/b/bin"],
        tools: Set<String>,
        versions: [String] = []
    ) -> PostgresBinaryLocator {
        var locator = PostgresBinaryLocator(configured: configured, environment: environment)
        locator.versionsRoot = "/fake/postgresql"
        locator.isExecutable = { tools.contains($0) }
        locator.listDirectory = { $0 == "/fake/postgresql" ? versions : [] }
        return locator
    }

    private func toolsIn(_ directories: String...) -> Set<String> {
        Set(directories.flatMap { [$0 + "/initdb", $0 + "/pg_ctl"] })
    }

    @Test("the configured folder wins over everything else")
    func configuredWins() throws {
        let locator = self.makeLocator(
            configured: "/custom",
            environment: ["GNOMON_PG_BINDIR": "/env", "PATH": "/opt/a/bin"],
            tools: self.toolsIn("/custom", "/env", "/opt/a/bin")
        )
        #expect(try locator.locate(pgConfigBinDirectory: "/from/pg_config") == "/custom")
    }

    @Test("$GNOMON_PG_BINDIR wins over pg_config")
    func environmentBeatsPgConfig() throws {
        let locator = self.makeLocator(
            environment: ["GNOMON_PG_BINDIR": "/env"],
            tools: self.toolsIn("/env", "/from/pg_config")
        )
        #expect(try locator.locate(pgConfigBinDirectory: "/from/pg_config") == "/env")
    }

    @Test("an explicit folder without initdb is refused, not passed over")
    func explicitFolderWithoutToolsIsRefused() {
        let locator = self.makeLocator(configured: "/empty", tools: self.toolsIn("/opt/a/bin"))
        let error = #expect(throws: StoreError.self) { try locator.locate(pgConfigBinDirectory: nil) }
        #expect(error?.code == .binariesNotFound)
        #expect(error?.message.contains("Configuration.binDirectory: /empty") == true)
    }

    @Test("pg_config is used when its folder has initdb and pg_ctl")
    func pgConfigBeatsVersionedFolders() throws {
        let locator = self.makeLocator(
            tools: self.toolsIn("/from/pg_config", "/fake/postgresql/16/bin"), versions: ["16"])
        #expect(try locator.locate(pgConfigBinDirectory: "/from/pg_config") == "/from/pg_config")
    }

    @Test("a pg_config folder without the server programs is skipped")
    func pgConfigWithoutToolsIsSkipped() throws {
        let locator = self.makeLocator(tools: self.toolsIn("/fake/postgresql/15/bin"), versions: ["15"])
        #expect(try locator.locate(pgConfigBinDirectory: "/client/only") == "/fake/postgresql/15/bin")
    }

    @Test("the highest version is chosen, comparing numbers rather than text")
    func highestVersionWins() throws {
        let versions = ["9.6", "10", "15", "notes", "12"]
        let tools = self.toolsIn("/fake/postgresql/9.6/bin", "/fake/postgresql/10/bin", "/fake/postgresql/15/bin")
        let locator = self.makeLocator(tools: tools, versions: versions)
        #expect(try locator.locate(pgConfigBinDirectory: nil) == "/fake/postgresql/15/bin")
        #expect(locator.versionedDirectories().first == "/fake/postgresql/15/bin")
        #expect(locator.versionedDirectories().last == "/fake/postgresql/9.6/bin")
    }

    @Test("PATH is the last resort, searched in order")
    func pathIsLastResort() throws {
        let locator = self.makeLocator(tools: self.toolsIn("/opt/b/bin"))
        #expect(try locator.locate(pgConfigBinDirectory: nil) == "/opt/b/bin")
    }

    @Test("the error names every place looked")
    func errorNamesEveryPlace() {
        let locator = self.makeLocator(tools: [], versions: ["15"])
        let error = #expect(throws: StoreError.self) { try locator.locate(pgConfigBinDirectory: "/client/only") }
        let message = error?.message ?? ""
        #expect(message.contains("pg_config --bindir: /client/only"))
        #expect(message.contains("/fake/postgresql/15/bin"))
        #expect(message.contains("PATH: /opt/a/bin"))
        #expect(message.contains("PATH: /opt/b/bin"))
    }

    @Test("pg_config output is trimmed, and ignored when it failed")
    func pgConfigOutputIsParsed() {
        #expect(PostgresBinaryLocator.parseBinDirectory(status: 0, output: "/usr/lib/pg/bin\n") == "/usr/lib/pg/bin")
        #expect(PostgresBinaryLocator.parseBinDirectory(status: 1, output: "/usr/lib/pg/bin\n") == nil)
        #expect(PostgresBinaryLocator.parseBinDirectory(status: 0, output: "") == nil)
    }
}

@Suite("Embedded PostgreSQL connection strings and settings")
struct EmbeddedPostgresConnectionTests {
    @Test("plain values are written bare, others quoted and escaped")
    func valuesAreQuoted() {
        #expect(ConnectionInfo.quote("gnomon") == "gnomon")
        #expect(ConnectionInfo.quote("/tmp/gnomon-pg-abc") == "/tmp/gnomon-pg-abc")
        #expect(ConnectionInfo.quote("") == "''")
        #expect(ConnectionInfo.quote("a b") == "'a b'")
        #expect(ConnectionInfo.quote("it's") == #"'it\'s'"#)
        #expect(ConnectionInfo.quote(#"back\slash"#) == #"'back\\slash'"#)
    }

    @Test("libpq reads back exactly the values that were written")
    func quotedValuesRoundTrip() throws {
        let endpoint = PostgresEndpoint(
            socketDirectory: "/tmp/with space",
            port: 5_433,
            listensOnTCP: true,
            user: "o'brien",
            database: #"db\name"#,
            password: "p w'\\d"
        )
        let socket = try PostgresProbe.parseConnectionString(endpoint.socketConnectionString)
        #expect(socket["host"] == "/tmp/with space")
        #expect(socket["port"] == "5433")
        #expect(socket["user"] == "o'brien")
        #expect(socket["dbname"] == #"db\name"#)
        #expect(socket["password"] == nil)
        let tcp = try PostgresProbe.parseConnectionString(try #require(endpoint.tcpConnectionString))
        #expect(tcp["host"] == "127.0.0.1")
        #expect(tcp["password"] == "p w'\\d")
    }

    @Test("there is no TCP connection string when TCP is off")
    func noTCPWithoutTCP() {
        let endpoint = PostgresEndpoint(
            socketDirectory: "/tmp/s",
            port: 5_432,
            listensOnTCP: false,
            user: "gnomon",
            database: "gnomon"
        )
        #expect(endpoint.tcpConnectionString == nil)
        #expect(endpoint.socketConnectionString == "host=/tmp/s port=5432 user=gnomon dbname=gnomon")
    }

    @Test("printing an endpoint does not show its password")
    func descriptionHidesPassword() {
        let endpoint = PostgresEndpoint(
            socketDirectory: "/tmp/s",
            port: 5_432,
            listensOnTCP: true,
            user: "gnomon",
            database: "gnomon",
            password: "secret-password"
        )
        #expect(!"\(endpoint)".contains("secret-password"))
        #expect(!String(reflecting: endpoint).contains("secret-password"))
    }

    @Test("postmaster options survive the shell pg_ctl hands them to")
    func postmasterOptionsAreShellQuoted() {
        let options = ShellQuoting.postmasterOptions([("listen_addresses", ""), ("search_path", "a's, b")])
        #expect(options == #"-c 'listen_addresses=' -c 'search_path=a'\''s, b'"#)
    }

    @Test("the launcher's own settings win over the caller's")
    func ownSettingsWin() {
        var configuration = EmbeddedPostgres.Configuration(dataDirectory: "/tmp/x/data")
        configuration.settings = ["port": "1", "fsync": "off"]
        let settings = configuration.serverSettings(port: 5_432, socketDirectory: "/tmp/gnomon-pg-x")
        #expect(settings.filter { $0.0 == "port" }.map(\.1) == ["5432"])
        #expect(settings.contains { $0 == ("fsync", "off") })
        #expect(settings.contains { $0 == ("listen_addresses", "") })
    }

    @Test("a TCP port asks the server to listen on 127.0.0.1")
    func tcpListensOnLoopback() {
        let configuration = EmbeddedPostgres.Configuration(dataDirectory: "/tmp/x/data", tcpPort: 0)
        let settings = configuration.serverSettings(port: 40_000, socketDirectory: "/tmp/gnomon-pg-x")
        #expect(settings.contains { $0 == ("listen_addresses", "127.0.0.1") })
    }

    @Test("invalid ports and setting names are refused before anything runs")
    func invalidConfigurationIsRefused() {
        var configuration = EmbeddedPostgres.Configuration(dataDirectory: "/tmp/x/data", tcpPort: 70_000)
        #expect(throws: StoreError.self) { try configuration.validate() }
        configuration.tcpPort = nil
        configuration.settings = ["fsync = off; x": "on"]
        #expect(throws: StoreError.self) { try configuration.validate() }
        configuration.settings = ["fsync": "off"]
        #expect(throws: Never.self) { try configuration.validate() }
    }

    @Test("the cluster name is fixed per data directory and differs between them")
    func clusterNameIsPerDirectory() {
        let first = EmbeddedPostgres.Configuration(dataDirectory: "/tmp/a/data")
        let again = EmbeddedPostgres.Configuration(dataDirectory: "/tmp/a/./data/")
        let other = EmbeddedPostgres.Configuration(dataDirectory: "/tmp/b/data")
        #expect(first.clusterName == again.clusterName)
        #expect(first.clusterName != other.clusterName)
        #expect(first.clusterName.count == 23)
    }
}

@Suite("Embedded PostgreSQL processes and accounts")
struct EmbeddedPostgresProcessTests {
    private let processes = ClusterProcesses(dataDirectory: "/tmp/t/data", clusterName: "gnomon-0123456789abcdef")

    @Test("the server is recognised by its data directory")
    func serverIsRecognised() {
        let arguments = ["/usr/lib/postgresql/15/bin/postgres", "-D", "/tmp/t/data", "-c", "port=5432"]
        #expect(self.processes.role(ofArguments: arguments) == .server)
        let other = ["/usr/lib/postgresql/15/bin/postgres", "-D", "/tmp/other/data"]
        #expect(self.processes.role(ofArguments: other) == nil)
        #expect(self.processes.role(ofArguments: ["/bin/sleep", "-D", "/tmp/t/data"]) == nil)
    }

    @Test("the server's children are recognised by the cluster name")
    func childrenAreRecognised() {
        #expect(self.processes.role(ofArguments: ["postgres: gnomon-0123456789abcdef: checkpointer "]) == .child)
        #expect(self.processes.role(ofArguments: ["postgres: gnomon-ffffffffffffffff: checkpointer "]) == nil)
    }

    @Test("a postmaster.pid naming this process is not taken for a running server")
    func ownPIDIsNotAServer() {
        #expect(self.processes.role(of: getpid()) == nil)
        #expect(self.processes.role(of: 0) == nil)
    }

    @Test("a folder the account cannot search is named in the error")
    func unsearchableAncestorIsNamed() {
        let account = ServerAccount(name: "postgres", uid: 101, gid: 104, groups: [104], home: "/var/lib/postgresql")
        let modes: [String: FileOwnership] = [
            "/": FileOwnership(uid: 0, gid: 0, mode: 0o40755),
            "/root": FileOwnership(uid: 0, gid: 0, mode: 0o40700),
        ]
        let error = #expect(throws: StoreError.self) {
            try account.checkCanReach("/root/gnomon/data") { modes[$0] }
        }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("/root (owner uid 0, mode 700) is not searchable") == true)
    }

    @Test("owner, group and other bits are checked in the order the kernel does")
    func searchBitsFollowKernelOrder() {
        let account = ServerAccount(name: "postgres", uid: 101, gid: 104, groups: [104, 103], home: "/")
        #expect(account.canSearch(FileOwnership(uid: 101, gid: 0, mode: 0o700)))
        #expect(!account.canSearch(FileOwnership(uid: 101, gid: 0, mode: 0o077)))
        #expect(account.canSearch(FileOwnership(uid: 0, gid: 103, mode: 0o710)))
        #expect(!account.canSearch(FileOwnership(uid: 0, gid: 103, mode: 0o701)))
        #expect(account.canSearch(FileOwnership(uid: 0, gid: 0, mode: 0o701)))
        #expect(ServerAccount.ancestors(of: "/tmp/a/data") == ["/", "/tmp", "/tmp/a"])
    }

    @Test("a failed command's message keeps the end of its output")
    func failureKeepsOutputTail() {
        let output = CommandOutput(
            status: 1, standardOutput: "", standardError: String(repeating: "x", count: 5_000) + "END")
        let error = #expect(throws: StoreError.self) { try output.check(.initdbFailed, "initdb") }
        #expect(error?.message.hasSuffix("END") == true)
        #expect((error?.message.count ?? 0) < 2_100)
    }

    @Test("a store error prints its code and message")
    func storeErrorDescription() {
        let error = StoreError(.startFailed, "the port is taken")
        #expect(error.description == "StoreError.start_failed: the port is taken")
    }
}
