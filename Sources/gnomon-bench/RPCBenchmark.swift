import Foundation
import GnomonNetwork

/// The `gnomon-bench rpc` run: the transport's figures beside PostgreSQL's round trip.
///
/// Client and server run in separate processes on the same machine, so every figure includes
/// both sides sharing its cores. Not `Sendable`: the report belongs to the task that runs it.
final class RPCBenchmark {
    /// How many calls each throughput connection keeps in flight.
    static let callsInFlight = 16
    /// The RPC latency's target, as a multiple of PostgreSQL's round trip.
    static let latencyTarget = BenchTarget.atMost(3, "3×")
    /// The throughput target with ``throughputConnections`` connections.
    static let throughputTarget = BenchTarget.atLeast(40_000, "40,000/s")
    /// The connection counts of the throughput runs; the first has ``throughputTarget``.
    static let throughputConnections = [8, 64]
    /// The target for the server's memory per idle connection, in KiB.
    static let idleMemoryTarget = BenchTarget.atMost(64, "64 KiB")

    let options: RPCBenchmarkOptions
    let server: RPCServerProcess
    let postgresConnectionString: String
    let group: EventLoopGroup
    let tls: TLSClientContext
    let call: StatusCall
    let report = BenchmarkReport(title: "RPC: `gnomon-bench rpc`")
    let clock = ContinuousClock()
    /// The size of the serialized `GetServerStatus` response, for the settings.
    var responseBytes = 0

    /// Prepares the client side: its event loops and the TLS context trusting `caFile`.
    ///
    /// - Parameters:
    ///   - options: What to measure, and for how long.
    ///   - server: The running RPC server.
    ///   - postgresConnectionString: A libpq key=value string for PostgreSQL's TCP address.
    ///   - caFile: The CA that signed the certificates of both servers.
    /// - Throws: ``TLSError`` or ``SystemError`` when the client side cannot be set up.
    init(
        options: RPCBenchmarkOptions,
        server: RPCServerProcess,
        postgresConnectionString: String,
        caFile: String
    ) throws {
        self.options = options
        self.server = server
        self.postgresConnectionString = postgresConnectionString
        self.group = try EventLoopGroup(name: "bench-client")
        self.tls = try TLSClientContext(configuration: TLSConfiguration(caFile: caFile))
        self.call = try StatusCall()
    }

    /// Measures everything in order and returns the report as Markdown.
    func run() async throws -> String {
        let loadBefore = MachineInfo.loadAverage()
        do {
            try await self.measureIdleMemory()
            let postgres = try await self.measureLatency()
            for connections in Self.throughputConnections {
                let target = connections == Self.throughputConnections[0] ? Self.throughputTarget : nil
                try await self.measureThroughput(connections: connections, target: target)
            }
            self.describeSettings(postgres: postgres, loadBefore: loadBefore)
        } catch {
            await self.group.shutdown()
            throw error
        }
        await self.group.shutdown()
        return self.report.markdown(machine: MachineInfo.current())
    }

    /// A channel to the server; it connects on its first call.
    func makeChannel() -> RPCChannel {
        RPCChannel(
            configuration: RPCChannel.Configuration(host: "127.0.0.1", port: self.server.port),
            tls: self.tls,
            group: self.group
        )
    }

    /// Makes one call on each channel at once, so that each is connected afterwards.
    ///
    /// - Throws: The first call's error, when a channel cannot connect or call.
    func connect(_ channels: [RPCChannel]) async throws {
        let call = self.call
        try await withThrowingTaskGroup(of: Void.self) { group in
            for channel in channels {
                group.addTask { try await call.run(on: channel) }
            }
            try await group.waitForAll()
        }
    }

    private func describeSettings(postgres: PostgresRoundTrip.Session, loadBefore: Double) {
        let threads = EventLoopGroup.defaultThreadCount
        let loadAfter = MachineInfo.loadAverage()
        self.report.addSection(
            "Settings",
            """
            The server is `gnomon-bench rpc-server`, a child process running `RPCServer` on 127.0.0.1 \
            with \(threads) event loop threads, the default protocol limits and a development P-256 \
            certificate, TLS 1.3 only. It answers `GetServerStatus` from memory: it decodes each request \
            (\(self.call.payload.count) bytes) and encodes a response (\(self.responseBytes) bytes) as the \
            real dispatcher does, without the database check. The client \
            is this process: one `RPCChannel` per connection over \(threads) event loop threads of its \
            own; each call carries a deadline \(Int(StatusCall.timeout.seconds)) s ahead and its response is \
            decoded, as the SDK does. Client and server share the machine's \(threads) cores.

            PostgreSQL \(postgres.serverVersion), embedded, over TCP to 127.0.0.1 with `sslmode=require` \
            (\(postgres.tlsProtocol), \(postgres.cipher)): `SELECT 1` prepared once and run with \
            `PQexecPrepared` on one connection. Latency rounds alternate PostgreSQL and RPC so that load \
            from elsewhere lands on both; each PostgreSQL round opens its connection and warms it up \
            untimed.

            Throughput runs count the calls that finish within the counted time, after a warm-up a \
            fifth as long; their latency is that of the counted calls, and CPU is each process's user \
            and system time over the run divided by its length, in cores. Idle memory is the server \
            process's `VmRSS` after a warm-up of one second of calls on 8 connections, then with \
            \(formatCount(self.options.idleConnections)) connections open, each past its TLS handshake \
            and one call, read after \(Int(Self.settleTime.seconds * 2)) s of rest.

            One-minute load average: \(String(format: "%.2f", loadBefore)) at the start, \
            \(String(format: "%.2f", loadAfter)) at the end.
            """
        )
    }
}
