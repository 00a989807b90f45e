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
    let options: EngineBenchmarkOptions
    let server: EngineServerProcess
    let postmasterPID: Int32
    let serverSettings: [String: String]
    /// The database `gnomond` uses, for the schedule phases' setup.
    let databaseURL: String
    /// PostgreSQL's statements and waits per phase; `nil` with `--no-database-stats`.
    let profile: DatabaseProfile?
    let clock = EngineClock()
    let log = ReceiptLog()
    let group: EventLoopGroup
    let tls: TLSClientContext
    let report = BenchmarkReport(title: "Engine: `gnomon-bench engine`")
    /// The `default` tenant's admin token, which may submit; a worker's.
    let adminToken: String
    let workerToken: String
    /// Channels that submit, in batches or one job a call; and one per lease stream.
    let submitChannels: [RPCChannel]
    let workerChannels: [RPCChannel]
    /// The steady runs' latencies by rate, for the backlog's comparison.
    var steadyLatencies: [Int: LatencyDistribution] = [:]
    /// What PostgreSQL did in each phase, as Markdown, in the order the phases ran.
    var profiles: [String] = []
    /// The phases that waited long for the machine to fall idle, and how long.
    var settleNotes: [String] = []
    private var lastRun = 0

    /// Reads the server's tokens, mints a worker token and prepares the client side.
    ///
    /// - Parameters:
    ///   - options: What to measure.
    ///   - server: The running `gnomond`.
    ///   - postmasterPID: PostgreSQL's postmaster, whose CPU time is reported.
    ///   - serverSettings: PostgreSQL's settings, for the report.
    ///   - profile: Where PostgreSQL's statements and waits are read, if anywhere.
    /// - Throws: ``BenchError``, ``AuthenticationError`` or ``TLSError`` when the client side
    ///   cannot be set up.
    init(
        options: EngineBenchmarkOptions,
        server: EngineServerProcess,
        postmasterPID: Int32,
        serverSettings: [String: String],
        databaseURL: String,
        profile: DatabaseProfile?
    ) throws {
        self.options = options
        self.server = server
        self.postmasterPID = postmasterPID
        self.serverSettings = serverSettings
        self.databaseURL = databaseURL
        self.profile = profile
        let folder = server.dataDirectory + "/dev"
        self.adminToken = try Self.token(in: folder + "/admin.token")
        let signer = try DevelopmentSigningKey.loadOrCreate(in: folder).makeSigner()
        self.workerToken = try signer.sign(
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
            if self.options.runs(.steady) {
                try await self.measureSteady()
            }
            if self.options.runs(.fanOut) {
                try await self.measureFanOut()
            }
            if self.options.runs(.backlog) {
                try await self.measureBacklog()
            }
            if self.options.runs(.neighbour) {
                try await self.measureNeighbourBacklog()
            }
            if self.options.runs(.schedules) {
                try await self.measureSameSecondSchedules()
            }
            if self.options.runs(.schedulesSpread) {
                try await self.measureSpreadSchedules()
            }
        } catch {
            await self.shutDown()
            throw error
        }
        await self.shutDown()
        self.describeSettings(loadBefore: loadBefore, loadAfter: MachineInfo.loadAverage())
        self.describeProblems()
        if !self.profiles.isEmpty {
            self.report.addSection(
                "Where PostgreSQL's time went",
                """
                Per phase: the backends of `gnomond`'s connections that were inside a transaction, sampled every \
                \(Int(DatabaseProfile.interval.seconds * 1_000)) ms from `pg_stat_activity`, by what each was doing \
                (`running` is on a CPU or runnable; `Lock:…` waits for a row or transaction lock; `idle in \
                transaction` waits for `gnomond` to send the next statement); then the statements with the most \
                time, from `pg_stat_statements`: executing (waits for locks included; the mean is per call) and \
                planning.
                """ + "\n\n" + self.profiles.joined(separator: "\n\n"))
        }
        return self.report.markdown(machine: MachineInfo.current())
    }

    /// A fresh run number, which the run's job payloads carry and its queue is named after.
    func nextRun() -> Int {
        self.lastRun += 1
        return self.lastRun
    }

    /// The queue of a run: each run has its own, so that jobs one run left behind never reach
    /// the workers of the next.
    static func queue(of run: Int) -> String {
        "bench-\(run)"
    }

    /// The CPU times of server, PostgreSQL and client now.
    func cpuTimes() -> CPUTimes {
        CPUTimes.read(serverPID: self.server.pid, postmasterPID: self.postmasterPID)
    }

    /// The most ``settle(before:)`` waits.
    static let settleLimit: Duration = .seconds(120)
    /// Server and PostgreSQL together below this many cores count as idle.
    static let idleCores = 0.15

    /// Runs `body` as a phase whose database activity the report lists under `name`, once the
    /// machine has fallen idle.
    @discardableResult
    func profiled<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
        await self.settle(before: name)
        await self.profile?.reset()
        let value = try await body()
        if let profile = self.profile {
            self.profiles.append(await profile.summary(of: name))
        }
        return value
    }

    /// Waits until `gnomond` and PostgreSQL have used less than ``idleCores`` for two half
    /// seconds in a row, at most ``settleLimit``: a phase must not pay for the calls an overloaded
    /// one left in the server, nor for the autovacuum that a large submission sets off.
    func settle(before phase: String) async {
        let start = ContinuousClock.now
        var previous = (self.cpuTimes(), start)
        var quietReadings = 0
        while quietReadings < 2 {
            guard ContinuousClock.now - start < Self.settleLimit else {
                self.settleNotes.append(
                    "before \(phase): gnomond and PostgreSQL were still busy after \(Self.settleLimit); the phase "
                        + "started anyway")
                return
            }
            try? await Task.sleep(for: .milliseconds(500))
            let now = (self.cpuTimes(), ContinuousClock.now)
            let cores = now.0.cores(since: previous.0, over: now.1 - previous.1)
            quietReadings = cores.server + cores.postgres < Self.idleCores ? quietReadings + 1 : 0
            previous = now
        }
        let waited = ContinuousClock.now - start
        if waited > .seconds(3) {
            printProgress("waited \(formatMilliseconds(waited)) for the machine to fall idle before \(phase)")
            self.settleNotes.append(
                "before \(phase): waited \(formatMilliseconds(waited)) for gnomond and PostgreSQL to fall idle")
        }
    }

    /// A producer of one-job calls on the submitting channels, as the `default` tenant's admin.
    ///
    /// - Parameters:
    ///   - queue: The queue the jobs go to.
    ///   - lead: How long after its intended submission each job is due; immediate when zero.
    func makeProducer(queue: String, lead: Duration) -> OpenLoopProducer {
        OpenLoopProducer(
            channels: self.submitChannels, token: self.adminToken, queue: queue, lead: lead, clock: self.clock)
    }

    /// A batch submitter on the submitting channels, with the calls in flight `--submit-connections` asks.
    func makeSubmitter() -> BatchSubmitter {
        BatchSubmitter(
            channels: self.submitChannels, callsPerChannel: self.options.batchesInFlight, token: self.adminToken)
    }

    /// Opens the workers' lease streams on `queue`.
    func startWorkers(queue: String) throws -> NoOpWorkerPool {
        try NoOpWorkerPool.start(
            channels: self.workerChannels, queue: queue, capacity: self.options.workerCapacity,
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
