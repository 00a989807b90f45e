import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol

/// The `gnomon-bench engine` run: producers and no-op workers against a real `gnomond`.
///
/// The server runs in a child process on an embedded PostgreSQL; producers and workers are this
/// process, over loopback TLS, so every figure includes all three sharing the machine's cores.
/// Not `Sendable`: the report and the run's state belong to the task that runs it.
final class EngineBenchmark {
    /// The queue the workers serve and the measured jobs go to.
    static let queue = "bench"
    /// The tenant that holds the second backlog, which no worker serves.
    static let otherTenant = "bench-other"

    let options: EngineBenchmarkOptions
    let server: EngineServerProcess
    let postmasterPID: Int32
    let serverSettings: [String: String]
    let clock = EngineClock()
    let log = ReceiptLog()
    let group: EventLoopGroup
    let tls: TLSClientContext
    let report = BenchmarkReport(title: "Engine: `gnomon-bench engine`")
    /// The `default` tenant's admin token, which may submit; the platform admin's; a worker's.
    let adminToken: String
    let platformToken: String
    let workerToken: String
    let signer: JWTSigner
    /// Channels that submit, in batches or one job a call; and one per lease stream.
    let submitChannels: [RPCChannel]
    let workerChannels: [RPCChannel]
    var workers: NoOpWorkerPool?
    /// The steady runs' latencies by rate, for the backlog's comparison.
    var steadyLatencies: [Int: LatencyDistribution] = [:]
    private var lastRun = 0

    /// Reads the server's tokens, mints a worker token and prepares the client side.
    ///
    /// - Parameters:
    ///   - options: What to measure.
    ///   - server: The running `gnomond`.
    ///   - postmasterPID: PostgreSQL's postmaster, whose CPU time is reported.
    ///   - serverSettings: PostgreSQL's settings, for the report.
    /// - Throws: ``BenchError``, ``AuthenticationError`` or ``TLSError`` when the client side
    ///   cannot be set up.
    init(
        options: EngineBenchmarkOptions,
        server: EngineServerProcess,
        postmasterPID: Int32,
        serverSettings: [String: String]
    ) throws {
        self.options = options
        self.server = server
        self.postmasterPID = postmasterPID
        self.serverSettings = serverSettings
        let folder = server.dataDirectory + "/dev"
        self.adminToken = try Self.token(in: folder + "/admin.token")
        self.platformToken = try Self.token(in: folder + "/platform-admin.token")
        self.signer = try DevelopmentSigningKey.loadOrCreate(in: folder).makeSigner()
        self.workerToken = try self.signer.sign(
            principal: Principal(tenantID: "default", subject: "bench-worker", roles: [.worker]),
            issuer: DevelopmentSigningKey.issuer, audience: "gnomon", lifetime: .seconds(4 * 3_600))
        self.group = try EventLoopGroup(name: "bench-client")
        self.tls = try TLSClientContext(configuration: TLSConfiguration(caFile: server.caFile))
        let port = server.port
        let (group, tls) = (self.group, self.tls)
        let makeChannel = {
            RPCChannel(configuration: RPCChannel.Configuration(host: "127.0.0.1", port: port), tls: tls, group: group)
        }
        self.submitChannels = (0..<options.submitConnections).map { _ in makeChannel() }
        self.workerChannels = (0..<options.workerStreams).map { _ in makeChannel() }
    }

    /// Measures every phase asked for, in order, and returns the report as Markdown.
    func run() async throws -> String {
        let loadBefore = MachineInfo.loadAverage()
        do {
            try await self.connect(self.submitChannels + self.workerChannels)
            if self.options.runs(.burst) {
                try await self.measureBurst()
            }
            try self.startWorkers()
            if self.options.runs(.steady) {
                await self.measureSteady()
            }
            if self.options.runs(.fanOut) {
                await self.measureFanOut()
            }
            if self.options.runs(.backlog) {
                try await self.measureBacklog()
            }
        } catch {
            await self.shutDown()
            throw error
        }
        await self.shutDown()
        self.describeSettings(loadBefore: loadBefore, loadAfter: MachineInfo.loadAverage())
        self.describeProblems()
        return self.report.markdown(machine: MachineInfo.current())
    }

    /// A fresh run number, which the run's job payloads carry.
    func nextRun() -> Int {
        self.lastRun += 1
        return self.lastRun
    }

    /// The CPU times of server, PostgreSQL and client now.
    func cpuTimes() -> CPUTimes {
        CPUTimes.read(serverPID: self.server.pid, postmasterPID: self.postmasterPID)
    }

    /// A producer of one-job calls on the submitting channels, as the `default` tenant's admin.
    func makeProducer() -> OpenLoopProducer {
        OpenLoopProducer(channels: self.submitChannels, token: self.adminToken, queue: Self.queue, clock: self.clock)
    }

    /// A batch submitter on the submitting channels, 2 calls in flight on each.
    func makeSubmitter(token: String? = nil) -> BatchSubmitter {
        BatchSubmitter(
            channels: self.submitChannels, callsPerChannel: self.options.batchesInFlight,
            token: token ?? self.adminToken)
    }

    /// Opens the workers' lease streams, unless they are open.
    func startWorkers() throws {
        guard self.workers == nil else {
            return
        }
        self.workers = try NoOpWorkerPool.start(
            channels: self.workerChannels, queue: Self.queue, capacity: self.options.workerCapacity,
            token: self.workerToken, log: self.log, clock: self.clock)
    }

    /// Makes one status call on each channel at once, so that each is connected afterwards.
    private func connect(_ channels: [RPCChannel]) async throws {
        let payload = try V1.GetServerStatusRequest().serializedBytes()
        let metadata = V1.CallMetadata(authorization: "Bearer \(self.adminToken)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for channel in channels {
                group.addTask {
                    _ = try await channel.unary(
                        .getServerStatus, payload: payload, metadata: metadata, deadline: .now + .seconds(30))
                }
            }
            try await group.waitForAll()
        }
    }

    private func shutDown() async {
        await self.workers?.stop()
        self.workers = nil
        for channel in self.submitChannels + self.workerChannels {
            channel.close()
        }
        await self.group.shutdown()
    }

    private static func token(in path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BenchError("gnomond --dev wrote no token to \(path)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
