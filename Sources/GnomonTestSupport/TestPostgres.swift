import Foundation
import Glibc
public import GnomonCore
public import GnomonStore

/// Throwaway PostgreSQL clusters for tests, kept under `/tmp/gnomon-test-<pid>-*`.
///
/// Clusters are tuned for speed (`fsync`, `synchronous_commit` and `full_page_writes` off) and
/// never hold anything worth keeping. Folders left by a test process that was killed are swept
/// by the next process that asks for a cluster, once their owner pid is gone.
public enum TestPostgres {
    /// Every test folder in `/tmp` starts with this, followed by the owning process's pid.
    public static let folderPrefix = "gnomon-test-"

    /// Runs `body` against a new cluster, and removes the cluster afterwards even if `body` throws.
    ///
    /// - Parameters:
    ///   - tcpPort: `nil` for the unix socket only, `0` for any free 127.0.0.1 port.
    ///   - logger: Receives the launcher's records.
    ///   - body: The test, given the endpoint of the running cluster.
    /// - Returns: What `body` returns.
    public static func withTestPostgres<T>(
        tcpPort: Int? = nil,
        logger: Logger = .disabled,
        _ body: (PostgresEndpoint) async throws -> T
    ) async throws -> T {
        await TestFolderSweeper.shared.sweepOnce()
        let configuration = try self.makeConfiguration(tcpPort: tcpPort)
        let postgres = EmbeddedPostgres(configuration: configuration, logger: logger)
        let result: T
        do {
            result = try await body(try await postgres.start())
        } catch {
            try? await self.discard(postgres, configuration: configuration)
            throw error
        }
        try await self.discard(postgres, configuration: configuration)
        return result
    }

    /// The endpoint of one cluster shared by every test of this process, started on first call.
    ///
    /// It listens on the unix socket and on a free 127.0.0.1 port. Tests using it must not
    /// depend on each other's data. An `atexit` handler kills and deletes it when the process
    /// exits; should the process be killed instead, the next test process sweeps it.
    public static func shared() async throws -> PostgresEndpoint {
        await TestFolderSweeper.shared.sweepOnce()
        return try await SharedTestCluster.instance.endpoint()
    }

    /// Makes a configuration for a fast test cluster in a new folder of its own.
    ///
    /// The caller removes the cluster, and then the folder above its data directory.
    ///
    /// - Parameter tcpPort: `nil` for the unix socket only, `0` for any free 127.0.0.1 port.
    public static func makeConfiguration(tcpPort: Int? = nil) throws -> EmbeddedPostgres.Configuration {
        let folder = try self.makeTemporaryFolder()
        var configuration = EmbeddedPostgres.Configuration(dataDirectory: folder + "/data", tcpPort: tcpPort)
        configuration.settings = [
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
            // Queries over list-partitioned jobs lock every partition they may touch.
            "max_locks_per_transaction": "256",
        ]
        return configuration
    }

    /// Creates `/tmp/gnomon-test-<pid>-XXXXXX`, searchable by everyone.
    ///
    /// Searchable because a root test process runs PostgreSQL as the `postgres` account.
    public static func makeTemporaryFolder() throws -> String {
        var template = Array("/tmp/\(self.folderPrefix)\(getpid())-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        guard created, chmod(path, 0o755) == 0 else {
            throw StoreError(.permissionDenied, "could not create a test folder in /tmp: errno \(errno)")
        }
        return path
    }

    /// Removes the cluster of `configuration`, then the test folder above its data directory.
    public static func discard(_ postgres: EmbeddedPostgres, configuration: EmbeddedPostgres.Configuration) async throws
    {
        try await postgres.remove()
        let folder = (configuration.dataDirectory as NSString).deletingLastPathComponent
        if (folder as NSString).lastPathComponent.hasPrefix(self.folderPrefix) {
            try FileManager.default.removeItem(atPath: folder)
        }
    }
}

/// The one cluster a test process shares, started once and deleted at exit.
private actor SharedTestCluster {
    static let instance = SharedTestCluster()

    private var starting: Task<PostgresEndpoint, any Error>?

    func endpoint() async throws -> PostgresEndpoint {
        let task = self.starting ?? Task { try await Self.start() }
        self.starting = task
        do {
            return try await task.value
        } catch {
            // A failed start is not kept, so that a later test may try again.
            self.starting = nil
            throw error
        }
    }

    private static func start() async throws -> PostgresEndpoint {
        let configuration = try TestPostgres.makeConfiguration(tcpPort: 0)
        ExitCleanup.shared.add((configuration.dataDirectory as NSString).deletingLastPathComponent)
        let postgres = EmbeddedPostgres(configuration: configuration, logger: .disabled)
        return try await postgres.start()
    }
}

/// Test folders to kill and delete when the process exits.
private final class ExitCleanup: @unchecked Sendable {
    static let shared = ExitCleanup()

    // Guards `folders` and `registered`, which the exit handler reads from whichever thread exits.
    private let lock = NSLock()
    private var folders: [String] = []
    private var registered = false

    func add(_ folder: String) {
        self.lock.withLock {
            self.folders.append(folder)
            if !self.registered {
                self.registered = true
                atexit { ExitCleanup.shared.run() }
            }
        }
    }

    private func run() {
        for folder in self.lock.withLock({ self.folders }) {
            EmbeddedPostgres.removeAtExit(dataDirectory: folder + "/data")
            try? FileManager.default.removeItem(atPath: folder)
        }
    }
}

/// Deletes the test folders of test processes that have died, once per process.
private actor TestFolderSweeper {
    static let shared = TestFolderSweeper()

    private var swept = false

    func sweepOnce() async {
        guard !self.swept else {
            return
        }
        self.swept = true
        for folder in Self.abandonedFolders() {
            let configuration = EmbeddedPostgres.Configuration(dataDirectory: folder + "/data")
            try? await EmbeddedPostgres(configuration: configuration, logger: .disabled).remove()
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    /// The `/tmp/gnomon-test-<pid>-*` folders whose process no longer exists.
    private static func abandonedFolders() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        return names.compactMap { name in
            guard name.hasPrefix(TestPostgres.folderPrefix) else {
                return nil
            }
            let pidText = name.dropFirst(TestPostgres.folderPrefix.count).prefix { $0 != "-" }
            guard let pid = pid_t(pidText), kill(pid, 0) != 0, errno == ESRCH else {
                return nil
            }
            return "/tmp/" + name
        }
    }
}
