import Foundation
import Glibc
import GnomonNetwork
import GnomonStore
import Synchronization

/// The benchmark's RPC server, run as `gnomon-bench rpc-server` in a child process.
final class RPCServerProcess: Sendable {
    /// The child's process id, whose memory the benchmark reads.
    let pid: Int32
    /// The loopback port the server listens on.
    let port: UInt16
    private let child: ChildProcess
    private let waiter: Task<Int32, Never>

    private init(child: ChildProcess, port: UInt16, waiter: Task<Int32, Never>) {
        self.pid = child.pid
        self.child = child
        self.port = port
        self.waiter = waiter
    }

    /// Starts this executable again as the server and waits until it listens.
    ///
    /// - Parameters:
    ///   - files: The server's certificate and key.
    ///   - timeout: How long the server may take to start listening.
    /// - Returns: The running server.
    /// - Throws: ``BenchError`` when the server exits or does not listen within `timeout`.
    static func start(tls files: CertificateFiles, timeout: Duration = .seconds(30)) async throws -> RPCServerProcess {
        let executable = try Self.ownExecutable()
        let output = try OutputCapture()
        let child = try ChildProcess.spawn(
            [executable, RPCServerCommand.name, "--certificate", files.certificateFile, "--key", files.keyFile],
            environment: ProcessInfo.processInfo.environment,
            standardOutput: output.descriptor,
            standardError: STDERR_FILENO
        )
        let exited = ExitFlag()
        let waiter = Task {
            let status = await child.waitForExit()
            exited.value.store(true, ordering: .releasing)
            return status
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let port = Self.port(in: output.contents()) {
                return RPCServerProcess(child: child, port: port, waiter: waiter)
            }
            if exited.value.load(ordering: .acquiring) {
                throw BenchError("the RPC server exited with status \(await waiter.value) before listening")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        child.send(SIGKILL)
        _ = await waiter.value
        throw BenchError("the RPC server did not listen within \(timeout); its output: \(output.contents())")
    }

    /// Kills the server and waits for it to exit.
    func stop() async {
        self.child.send(SIGKILL)
        _ = await self.waiter.value
    }

    /// The resident memory and CPU time of the server process now.
    func status() throws -> ProcessStatus {
        try ProcessStatus.read(pid: self.pid)
    }

    private static func port(in output: String) -> UInt16? {
        output.split(separator: "\n")
            .first { $0.hasPrefix(RPCServerCommand.readyLine) }
            .flatMap { UInt16($0.dropFirst(RPCServerCommand.readyLine.count)) }
    }

    /// The path of this executable, which `/proc/self/exe` links to.
    static func ownExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else {
            throw BenchError("could not read /proc/self/exe to start the RPC server: errno \(errno)")
        }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Whether a child has exited, set by the task that waits for it.
private final class ExitFlag: Sendable {
    let value = Atomic<Bool>(false)
}
