import Foundation
import Glibc
import GnomonCore

/// What the process named in a cluster's `postmaster.pid` turned out to be.
enum LockHolder: Equatable, Sendable {
    /// There is no `postmaster.pid`.
    case none
    /// The file names a dead process, a zombie or a process that is not this cluster's server.
    case stale(pid_t?)
    /// The file names a live server of this data directory.
    case running(pid_t)
}

/// Finds the live processes of one cluster by their command lines in `/proc`.
///
/// The server is started as `postgres -D <dataDirectory> ...` and keeps that command line; its
/// children show `postgres: <clusterName>: <role>`. Command lines can be read for any user's
/// processes, unlike `/proc/<pid>/cwd`.
struct ClusterProcesses: Sendable {
    var dataDirectory: String
    var clusterName: String

    /// What a command line says about a process.
    enum Role: Equatable, Sendable {
        case server
        case child
    }

    /// Whether the arguments belong to this cluster's server or one of its children.
    func role(ofArguments arguments: [String]) -> Role? {
        guard let first = arguments.first else {
            return nil
        }
        if first.hasPrefix("postgres: \(self.clusterName): ") {
            return .child
        }
        let program = first.split(separator: "/").last.map(String.init) ?? first
        guard program == "postgres" || program == "postmaster" else {
            return nil
        }
        let names = zip(arguments, arguments.dropFirst()).contains { $0 == "-D" && $1 == self.dataDirectory }
        return names ? .server : nil
    }

    /// The live processes of this cluster, other than this process.
    func list() -> [(pid: pid_t, role: Role)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = pid_t(entry), pid != getpid(), let arguments = Self.arguments(of: pid) else {
                return nil
            }
            return self.role(ofArguments: arguments).map { (pid, $0) }
        }
    }

    /// The role of `pid`, or nil when it is gone, a zombie or not part of this cluster.
    func role(of pid: pid_t) -> Role? {
        guard pid > 0, pid != getpid(), let arguments = Self.arguments(of: pid) else {
            return nil
        }
        if let role = self.role(ofArguments: arguments) {
            return role
        }
        // A server started by hand may spell its folder differently; its working directory still tells.
        let program = arguments[0].split(separator: "/").last
        guard program == "postgres" || program == "postmaster" else {
            return nil
        }
        return Self.workingDirectory(of: pid) == self.resolvedDataDirectory ? .server : nil
    }

    /// The data directory with symbolic links resolved, as `/proc/<pid>/cwd` shows it.
    private var resolvedDataDirectory: String {
        URL(fileURLWithPath: self.dataDirectory).resolvingSymlinksInPath().path
    }

    private static func workingDirectory(of pid: pid_t) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")
    }

    /// Reads a process's arguments; a zombie has none, and a gone process has no file.
    private static func arguments(of pid: pid_t) -> [String]? {
        let descriptor = open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return nil
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR {
                continue
            }
            guard count > 0 else {
                break
            }
            bytes += chunk.prefix(count)
        }
        let words = bytes.split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        return words.first?.isEmpty == false ? words : nil
    }
}

extension EmbeddedPostgres {
    /// Reads `postmaster.pid` and says whether a server of this cluster really holds it.
    ///
    /// PostgreSQL itself would take a reused pid for a live server and refuse to start.
    func lockHolder() -> LockHolder {
        guard let text = try? String(contentsOfFile: self.files.postmasterPID, encoding: .utf8) else {
            return .none
        }
        let firstLine = text.split(separator: "\n").first.map(String.init) ?? ""
        guard let pid = pid_t(firstLine.trimmingCharacters(in: .whitespaces)) else {
            return .stale(nil)
        }
        return self.processes.role(of: pid) == .server ? .running(pid) : .stale(pid)
    }

    /// Brings the cluster to a stop, whoever started it, and removes what a crash left behind.
    ///
    /// - Returns: The pid of the server that was stopped, or nil when none was running.
    func bringDown() async throws -> pid_t? {
        var stopped: pid_t?
        switch self.lockHolder() {
        case .none:
            break
        case .stale:
            try? FileManager.default.removeItem(atPath: self.files.postmasterPID)
        case .running(let pid):
            try await self.shutDown(pid)
            stopped = pid
        }

        try await self.waitForClusterExit()
        self.files.removeRecordedSocketDirectory()
        return stopped
    }

    /// Stops a running server: fast, else immediate, else by SIGKILL.
    private func shutDown(_ pid: pid_t) async throws {
        let tools = try await self.loadTools()
        let fast = try await self.pgCtlStop(tools, mode: "fast", seconds: 30)
        guard fast.status != 0 else {
            return
        }
        self.logger.warning("fast shutdown failed; trying immediate", [LogKey.path: self.dataDirectory])
        let immediate = try await self.pgCtlStop(tools, mode: "immediate", seconds: 15)
        guard immediate.status != 0 else {
            return
        }
        guard kill(pid, SIGKILL) == 0 || errno == ESRCH else {
            let reason = String(cString: strerror(errno))
            throw StoreError(
                .stopFailed,
                "pg_ctl stop -m immediate failed (\(CommandOutput.tail(immediate.standardError, limit: 500))) "
                    + "and SIGKILL of server pid \(pid) was refused: \(reason)"
            )
        }
        try await self.waitForClusterExit()
        try? FileManager.default.removeItem(atPath: self.files.postmasterPID)
    }

    private func pgCtlStop(_ tools: ServerTools, mode: String, seconds: Int) async throws -> CommandOutput {
        let arguments = ["stop", "-D", self.dataDirectory, "-m", mode, "-w", "-t", String(seconds), "-s"]
        return try await tools.runner.run(tools.path("pg_ctl"), arguments)
    }

    /// Waits for leftover processes of a crashed server, which hold its shared memory.
    ///
    /// They notice a dead server within moments; any still there after ten seconds are killed.
    func waitForClusterExit() async throws {
        if try await self.waitUntilNoClusterProcesses(seconds: 10) {
            return
        }
        for process in self.processes.list() {
            kill(process.pid, SIGKILL)
        }
        guard try await self.waitUntilNoClusterProcesses(seconds: 5) else {
            let pids = self.processes.list().map { String($0.pid) }.joined(separator: ", ")
            throw StoreError(
                .stopFailed,
                "processes of an earlier server of \(self.dataDirectory) did not exit after SIGKILL: pids \(pids)"
            )
        }
    }

    private func waitUntilNoClusterProcesses(seconds: Int) async throws -> Bool {
        for _ in 0..<(seconds * 20) {
            if self.processes.list().isEmpty {
                return true
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return self.processes.list().isEmpty
    }
}

extension EmbeddedPostgres {
    /// Kills the server of a data directory at once and deletes its folders, blocking meanwhile.
    ///
    /// Meant for `atexit` handlers, where nothing can be awaited; everywhere else use
    /// ``remove()``. The server gets SIGQUIT (an immediate shutdown) and five seconds to exit.
    ///
    /// - Parameter dataDirectory: The cluster's data directory, as given in its configuration.
    public nonisolated static func removeAtExit(dataDirectory: String) {
        let configuration = Configuration(dataDirectory: dataDirectory)
        let files = ClusterFiles(dataDirectory: configuration.absoluteDataDirectory)
        let processes = ClusterProcesses(
            dataDirectory: configuration.absoluteDataDirectory,
            clusterName: configuration.clusterName
        )
        for process in processes.list() where process.role == .server {
            kill(process.pid, SIGQUIT)
        }
        let deadline = Date().addingTimeInterval(5)
        while !processes.list().isEmpty && Date() < deadline {
            usleep(50_000)
        }
        for process in processes.list() {
            kill(process.pid, SIGKILL)
        }
        files.removeRecordedSocketDirectory()
        try? FileManager.default.removeItem(atPath: files.dataDirectory)
    }
}

extension ClusterFiles {
    /// Deletes the socket folder an earlier start recorded, if it is one of the launcher's.
    func removeRecordedSocketDirectory() {
        guard let recorded = try? String(contentsOfFile: self.socketDirectoryRecord, encoding: .utf8) else {
            return
        }
        let path = recorded.trimmingCharacters(in: .whitespacesAndNewlines)
        // Only folders this launcher creates are deleted, whatever the record says.
        if path.hasPrefix(Self.socketDirectoryPrefix) && !path.contains("/..") {
            try? FileManager.default.removeItem(atPath: path)
        }
        try? FileManager.default.removeItem(atPath: self.socketDirectoryRecord)
    }
}
