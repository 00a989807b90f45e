import Foundation
import Glibc
import GnomonStore
import Synchronization

/// The server under test: `gnomond --dev` in a child process, on the benchmark's PostgreSQL.
///
/// The child is started through `setpriv --pdeathsig KILL` from a thread that lives until the
/// child exits, so that an interrupted benchmark, which exits without stopping it, takes the
/// server with it rather than leaving it serving a deleted cluster.
final class EngineServerProcess: Sendable {
    /// The child's process id: `gnomond` itself, which `setpriv` replaces itself with.
    let pid: Int32
    /// The loopback port the server listens on.
    let port: UInt16
    /// The development CA that signed the server's certificate.
    let caFile: String
    /// The server's data folder, holding `dev/` with its signing key and tokens.
    let dataDirectory: String
    private let errors: OutputCapture
    private let watch: ExitWatch

    private init(
        pid: Int32, port: UInt16, caFile: String, dataDirectory: String, errors: OutputCapture, watch: ExitWatch
    ) {
        self.pid = pid
        self.port = port
        self.caFile = caFile
        self.dataDirectory = dataDirectory
        self.errors = errors
        self.watch = watch
    }

    /// Starts `gnomond --dev` on `databaseURL` and waits until it is ready.
    ///
    /// - Parameters:
    ///   - executable: The `gnomond` binary.
    ///   - databaseURL: A libpq connection string for the benchmark's PostgreSQL.
    ///   - dataDirectory: The server's data folder, created if missing.
    ///   - timeout: How long it may take to migrate the database and listen.
    /// - Returns: The running server.
    /// - Throws: ``BenchError`` when it exits or is not ready in time.
    static func start(
        executable: String,
        databaseURL: String,
        dataDirectory: String,
        timeout: Duration = .seconds(120)
    ) async throws -> EngineServerProcess {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw BenchError(
                "there is no gnomond at \(executable); build it with 'swift build -c release --product gnomond' "
                    + "or name one with --gnomond")
        }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GNOMON_") }
        environment["GNOMON_LOG_FORMAT"] = "json"
        let server = [
            executable, "--dev", "--data-dir", dataDirectory, "--database-url", databaseURL,
            "--listen", "127.0.0.1:0",
        ]
        let setpriv = "/usr/bin/setpriv"
        let words =
            FileManager.default.isExecutableFile(atPath: setpriv) ? [setpriv, "--pdeathsig", "KILL"] + server : server
        let output = try OutputCapture()
        let errors = try OutputCapture()
        let (pid, watch) = try await ExitWatch.spawn(words, environment: environment, output: output, errors: errors)

        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let records = Self.records(in: errors.contents())
            if records.contains(where: { $0["message"] == "gnomond ready" }) {
                guard let listening = records.first(where: { $0["message"] == "listening" }),
                    let port = listening["address"].flatMap({ $0.split(separator: ":").last }).flatMap({ UInt16($0) }),
                    let caFile = listening["ca_file"]
                else {
                    kill(pid, SIGKILL)
                    throw BenchError(
                        "gnomond is ready but logged no address and CA file; it wrote:\n\(errors.contents())")
                }
                return EngineServerProcess(
                    pid: pid, port: port, caFile: caFile, dataDirectory: dataDirectory, errors: errors, watch: watch)
            }
            if let status = watch.status {
                throw BenchError(
                    "gnomond exited with status \(status) before it was ready; it wrote:\n\(errors.contents())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(pid, SIGKILL)
        throw BenchError("gnomond was not ready within \(timeout); it wrote:\n\(errors.contents())")
    }

    /// Whether the server has exited, and with what status.
    var exitStatus: Int32? {
        self.watch.status
    }

    /// The JSON log records the server wrote so far, each as its string fields.
    var logRecords: [[String: String]] {
        Self.records(in: self.errors.contents())
    }

    /// Asks the server to shut down, and kills it if it has not exited within `timeout`.
    func stop(timeout: Duration = .seconds(15)) async {
        kill(self.pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while self.watch.status == nil && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if self.watch.status == nil {
            kill(self.pid, SIGKILL)
        }
    }

    private static func records(in text: String) -> [[String: String]] {
        text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return object.compactMapValues { $0 as? String }
        }
    }
}

/// A child spawned from a thread of its own, which then waits for it and records its status.
///
/// The thread outlives the child on purpose: `setpriv --pdeathsig` ties the child to the thread
/// that started it, not to the process.
private final class ExitWatch: Sendable {
    private let exited = Mutex<Int32?>(nil)

    /// The child's exit status, once it has exited.
    var status: Int32? {
        self.exited.withLock { $0 }
    }

    static func spawn(
        _ words: [String],
        environment: [String: String],
        output: OutputCapture,
        errors: OutputCapture
    ) async throws -> (Int32, ExitWatch) {
        let watch = ExitWatch()
        let pid = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            let thread = Thread {
                let child: ChildProcess
                do {
                    child = try ChildProcess.spawn(
                        words, environment: environment, standardOutput: output.descriptor,
                        standardError: errors.descriptor)
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                continuation.resume(returning: child.pid)
                let status = child.waitForExitBlocking()
                watch.exited.withLock { $0 = status }
            }
            thread.name = "gnomond-watch"
            thread.start()
        }
        return (pid, watch)
    }
}
