import Foundation
import Glibc
import GnomonNetwork
import GnomonProtocol
import GnomonStore
import GnomonTestSupport

/// A worker in a process of its own, to be killed in the middle of a job.
///
/// It is this test bundle run again with one test selected, ``EngineFailureTests`` 's
/// `workerProcess`, which does something only when ``isRequested``: it leases one job over
/// TLS, heartbeats it once, says so on standard output and then waits to be killed.
struct WorkerProcess {
    /// What the worker leased, as it reported it.
    struct Lease: Sendable {
        var jobID: String
        var leaseToken: String
        var attempt: UInt32
    }

    /// Raised when the worker does not report a lease, or was started without its settings.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private static let portVariable = "GNOMON_TEST_WORKER_PORT"
    private static let caVariable = "GNOMON_TEST_WORKER_CA"
    private static let tokenVariable = "GNOMON_TEST_WORKER_TOKEN"
    private static let queueVariable = "GNOMON_TEST_WORKER_QUEUE"
    private static let marker = "GNOMON-TEST-LEASED"

    let child: ChildProcess
    private let output: OutputCapture
    private let errors: OutputCapture

    /// Starts a worker that leases from the node at `port` on 127.0.0.1.
    ///
    /// - Parameters:
    ///   - port: The node's RPC port.
    ///   - caFile: The authority the node's certificate is checked against.
    ///   - token: A worker token.
    ///   - queue: The queue to lease from, with capacity 1.
    init(port: UInt16, caFile: String, token: String, queue: String) throws {
        var environment = ProcessInfo.processInfo.environment
        environment[Self.portVariable] = String(port)
        environment[Self.caVariable] = caFile
        environment[Self.tokenVariable] = token
        environment[Self.queueVariable] = queue
        self.output = try OutputCapture()
        self.errors = try OutputCapture()
        self.child = try ChildProcess.spawn(
            [Self.testBundle(), "--testing-library", "swift-testing", "--filter", "EngineFailureTests/workerProcess"],
            environment: environment,
            directory: FileManager.default.currentDirectoryPath,
            standardOutput: self.output.descriptor,
            standardError: self.errors.descriptor)
    }

    /// Waits until the worker reports the job it leased.
    ///
    /// - Throws: ``Failure`` with what the worker wrote, when it does not in time.
    func waitForLease(timeout: Duration = .seconds(60)) async throws -> Lease {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let line = self.output.contents().split(separator: "\n").first { $0.hasPrefix(Self.marker + " ") }
            if let words = line?.split(separator: " "), words.count == 4, let attempt = UInt32(words[3]) {
                return Lease(jobID: String(words[1]), leaseToken: String(words[2]), attempt: attempt)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(
            description: "the worker process reported no lease; it wrote:\n\(self.output.contents())\n"
                + self.errors.contents())
    }

    /// The running test bundle, which the worker process runs again.
    private static func testBundle() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    // MARK: - In the worker process

    /// Whether this process was started as a worker process.
    static var isRequested: Bool {
        ProcessInfo.processInfo.environment[Self.portVariable] != nil
    }

    /// The worker's whole life: lease one job, heartbeat it, report it, and wait to be killed.
    static func runAsWorker() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let port = environment[Self.portVariable].flatMap({ UInt16($0) }),
            let caFile = environment[Self.caVariable], let token = environment[Self.tokenVariable],
            let queue = environment[Self.queueVariable]
        else {
            throw Failure(description: "the worker process was started without its settings")
        }
        let group = try EventLoopGroup(threads: 1)
        let channel = RPCChannel(
            configuration: RPCChannel.Configuration(host: "127.0.0.1", port: port),
            tls: try TLSClientContext(configuration: TLSConfiguration(caFile: caFile)), group: group)
        let messages = try channel.leaseMessages(token: token, queues: [queue], capacity: 1, worker: "doomed-worker")
        for try await bytes in messages {
            guard case .leased(let job) = try V1.LeaseStreamMessage(serializedBytes: bytes).event else {
                continue
            }
            let jobID = job.job?.id ?? ""
            let _: V1.HeartbeatResponse = try await channel.call(
                .heartbeat, V1.HeartbeatRequest(jobID: jobID, leaseToken: job.leaseToken), token: token)
            FileHandle.standardOutput.write(Data("\(Self.marker) \(jobID) \(job.leaseToken) \(job.attempt)\n".utf8))
            // Busy with the job until killed; a forgotten worker ends by itself.
            try await Task.sleep(for: .seconds(120))
            return
        }
    }
}
