import Foundation
import Glibc
import GnomonCore
import GnomonTestSupport
import Testing

@testable import GnomonStore

@Suite("Embedded PostgreSQL", .serialized)
struct EmbeddedPostgresTests {
    @Test("starts, answers, stops, restarts on the same cluster and is removed")
    func lifecycle() async throws {
        try await withCluster { postgres, configuration, log in
            let first = try await postgres.start()
            let major = try installedMajorVersion(configuration)
            let version = try await PostgresProbe.serverVersion(connectionString: first.socketConnectionString)
            #expect(version.hasPrefix(major + "."))
            #expect(try await postgres.start() == first)

            try await postgres.stop()
            await #expect(throws: StoreError.self) {
                try await PostgresProbe.serverVersion(connectionString: first.socketConnectionString)
            }
            #expect(!FileManager.default.fileExists(atPath: first.socketDirectory))
            try await postgres.stop()

            let second = try await postgres.start()
            let again = try await PostgresProbe.serverVersion(connectionString: second.socketConnectionString)
            #expect(again == version)
            #expect(log.count("embedded PostgreSQL initialised") == 1)
            #expect(log.count("embedded PostgreSQL started") == 2)
            #expect(log.count("embedded PostgreSQL stopped") == 1)

            try await postgres.remove()
            #expect(!FileManager.default.fileExists(atPath: configuration.dataDirectory))
            #expect(!FileManager.default.fileExists(atPath: second.socketDirectory))
        }
    }

    @Test("TCP port 0 picks a free port that accepts the password and refuses others")
    func tcpWithPassword() async throws {
        try await withCluster(tcpPort: 0) { postgres, _, log in
            let endpoint = try await postgres.start()
            let password = try #require(endpoint.password)
            let tcp = try #require(endpoint.tcpConnectionString)
            #expect(endpoint.listensOnTCP)
            #expect(endpoint.port > 0 && endpoint.port != 5_432)
            _ = try await PostgresProbe.serverVersion(connectionString: tcp)

            let wrong = "host=127.0.0.1 port=\(endpoint.port) user=gnomon dbname=gnomon password=wrong"
            let error = await #expect(throws: StoreError.self) {
                try await PostgresProbe.serverVersion(connectionString: wrong)
            }
            #expect(error?.code == .connectionFailed)
            #expect(!log.mentions(password))

            try await postgres.stop()
            #expect(try await postgres.start().password == password)
        }
    }

    @Test("two clusters run side by side")
    func sideBySide() async throws {
        try await withCluster { first, _, _ in
            try await withCluster(tcpPort: 0) { second, _, _ in
                async let firstStart = first.start()
                async let secondStart = second.start()
                let endpoints = try await [firstStart, secondStart]
                #expect(endpoints[0].socketDirectory != endpoints[1].socketDirectory)
                for endpoint in endpoints {
                    _ = try await PostgresProbe.serverVersion(connectionString: endpoint.socketConnectionString)
                }
            }
        }
    }

    @Test("a SIGKILLed server does not stop the next start, and its socket folder is cleaned")
    func killedServer() async throws {
        try await withCluster { postgres, configuration, _ in
            let first = try await postgres.start()
            let killed = try serverPID(configuration)
            #expect(kill(killed, SIGKILL) == 0)
            try await waitUntilGone(killed, configuration)

            let second = try await postgres.start()
            _ = try await PostgresProbe.serverVersion(connectionString: second.socketConnectionString)
            #expect(try serverPID(configuration) != killed)
            #expect(!FileManager.default.fileExists(atPath: first.socketDirectory))
        }
    }

    @Test("a postmaster.pid naming an unrelated live process does not stop a start", arguments: [getpid(), 1])
    func unrelatedPID(pid: pid_t) async throws {
        try await withCluster { postgres, configuration, _ in
            _ = try await postgres.start()
            let lockFile = ClusterFiles(dataDirectory: configuration.dataDirectory).postmasterPID
            let contents = try String(contentsOfFile: lockFile, encoding: .utf8)
            try await postgres.stop()

            let lines = contents.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().map(String.init)
            try ([String(pid)] + lines).joined(separator: "\n").write(
                toFile: lockFile, atomically: true, encoding: .utf8)
            let endpoint = try await postgres.start()
            _ = try await PostgresProbe.serverVersion(connectionString: endpoint.socketConnectionString)
            #expect(try serverPID(configuration) != pid)
        }
    }

    @Test("a socket folder recorded by an earlier run is deleted")
    func leftoverSocketFolder() async throws {
        try await withCluster { postgres, configuration, _ in
            _ = try await postgres.start()
            try await postgres.stop()
            let leftover = try makeLeftoverSocketFolder()
            let record = ClusterFiles(dataDirectory: configuration.dataDirectory).socketDirectoryRecord
            try (leftover + "\n").write(toFile: record, atomically: true, encoding: .utf8)

            let endpoint = try await postgres.start()
            #expect(!FileManager.default.fileExists(atPath: leftover))
            #expect(endpoint.socketDirectory != leftover)
        }
    }

    @Test("an orphaned server of the same data directory is stopped and replaced")
    func orphanedServer() async throws {
        try await withCluster { orphaning, configuration, _ in
            let old = try await orphaning.start()
            let orphan = try serverPID(configuration)

            let fresh = EmbeddedPostgres(configuration: configuration, logger: .disabled)
            let endpoint = try await fresh.start()
            _ = try await PostgresProbe.serverVersion(connectionString: endpoint.socketConnectionString)
            #expect(try serverPID(configuration) != orphan)
            #expect(!FileManager.default.fileExists(atPath: old.socketDirectory))
            let processes = ClusterProcesses(
                dataDirectory: configuration.dataDirectory, clusterName: configuration.clusterName)
            #expect(processes.role(of: orphan) == nil)
        }
    }

    @Test("a data directory the postgres account cannot reach is refused by name", .enabled(if: geteuid() == 0))
    func unreachableDataDirectory() async throws {
        let folder = "/root/gnomon-test-\(UUID().uuidString)"
        let postgres = EmbeddedPostgres(configuration: .init(dataDirectory: folder + "/data"), logger: .disabled)
        let error = await #expect(throws: StoreError.self) { try await postgres.start() }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("/root (owner uid 0, mode 700) is not searchable") == true)
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test("connection strings are checked", arguments: ["postgresql://u@localhost/db", "host=/tmp dbname=x"])
    func validConnectionStrings(string: String) throws {
        try PostgresProbe.validateConnectionString(string)
    }

    @Test(
        "malformed connection strings are refused with the reason",
        arguments: [("not a url", #"missing "=" after "not""#), ("postgresql://[bad", #"matching "]""#), ("", "empty")]
    )
    func invalidConnectionStrings(string: String, reason: String) {
        let error = #expect(throws: StoreError.self) { try PostgresProbe.validateConnectionString(string) }
        #expect(error?.code == .invalidConnectionString)
        #expect(error?.message.contains(reason) == true)
    }

    @Test("withTestPostgres removes its cluster when the test throws")
    func testClusterIsRemovedOnThrow() async throws {
        struct Planned: Error {}
        let seen = EndpointBox()
        await #expect(throws: Planned.self) {
            try await TestPostgres.withTestPostgres { endpoint in
                seen.endpoint = endpoint
                _ = try await PostgresProbe.serverVersion(connectionString: endpoint.socketConnectionString)
                throw Planned()
            }
        }
        let endpoint = try #require(seen.endpoint)
        #expect(!FileManager.default.fileExists(atPath: endpoint.socketDirectory))
    }

    @Test("the shared test cluster is started once and answers over both transports")
    func sharedCluster() async throws {
        let first = try await TestPostgres.shared()
        let second = try await TestPostgres.shared()
        #expect(first == second)
        _ = try await PostgresProbe.serverVersion(connectionString: first.socketConnectionString)
        _ = try await PostgresProbe.serverVersion(connectionString: try #require(first.tcpConnectionString))
    }
}

/// Runs `body` with a launcher for a new test cluster, and deletes the cluster afterwards.
private func withCluster(
    tcpPort: Int? = nil,
    _ body: (EmbeddedPostgres, EmbeddedPostgres.Configuration, RecordingLogSink) async throws -> Void
) async throws {
    let configuration = try TestPostgres.makeConfiguration(tcpPort: tcpPort)
    let log = RecordingLogSink()
    let postgres = EmbeddedPostgres(configuration: configuration, logger: Logger(source: "test", sink: log))
    do {
        try await body(postgres, configuration, log)
    } catch {
        try? await TestPostgres.discard(postgres, configuration: configuration)
        throw error
    }
    // A new launcher, in case the test left the first one believing in a server it no longer owns.
    try await TestPostgres.discard(
        EmbeddedPostgres(configuration: configuration, logger: .disabled), configuration: configuration)
}

private func serverPID(_ configuration: EmbeddedPostgres.Configuration) throws -> pid_t {
    let lockFile = ClusterFiles(dataDirectory: configuration.dataDirectory).postmasterPID
    let firstLine = try String(contentsOfFile: lockFile, encoding: .utf8).split(separator: "\n").first
    return try #require(firstLine.flatMap { pid_t($0) })
}

/// Waits until `pid` is no longer a live server of the cluster, as after a crash.
private func waitUntilGone(_ pid: pid_t, _ configuration: EmbeddedPostgres.Configuration) async throws {
    let processes = ClusterProcesses(dataDirectory: configuration.dataDirectory, clusterName: configuration.clusterName)
    for _ in 0..<100 where processes.role(of: pid) != nil {
        try await Task.sleep(for: .milliseconds(50))
    }
    try #require(processes.role(of: pid) == nil)
}

private func installedMajorVersion(_ configuration: EmbeddedPostgres.Configuration) throws -> String {
    let text = try String(contentsOfFile: configuration.dataDirectory + "/PG_VERSION", encoding: .utf8)
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

private func makeLeftoverSocketFolder() throws -> String {
    var template = Array((ClusterFiles.socketDirectoryPrefix + "XXXXXX").utf8CString)
    let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
    try #require(created)
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// Keeps the log records a launcher writes, for tests to count.
private final class RecordingLogSink: LogSink, @unchecked Sendable {
    // Guards `records`, written from whichever thread the launcher runs on.
    private let lock = NSLock()
    private var records: [LogRecord] = []

    func write(_ record: LogRecord) {
        self.lock.withLock { self.records.append(record) }
    }

    func count(_ message: String) -> Int {
        self.lock.withLock { self.records.filter { $0.message == message }.count }
    }

    func mentions(_ text: String) -> Bool {
        self.lock.withLock {
            self.records.contains { $0.message.contains(text) || $0.metadata.values.contains { $0.contains(text) } }
        }
    }
}

/// Carries an endpoint out of a closure that throws.
private final class EndpointBox: @unchecked Sendable {
    // Guards `stored`.
    private let lock = NSLock()
    private var stored: PostgresEndpoint?

    var endpoint: PostgresEndpoint? {
        get { self.lock.withLock { self.stored } }
        set { self.lock.withLock { self.stored = newValue } }
    }
}
