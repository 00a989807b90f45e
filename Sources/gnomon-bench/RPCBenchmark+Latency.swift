import Foundation
import GnomonNetwork

extension RPCBenchmark {
    /// How many rounds the latency calls are split into, alternating PostgreSQL and RPC.
    static let latencyRounds = 4
    /// Untimed calls before the timed ones, on each side.
    static let latencyWarmUp = 1_000

    /// Times sequential calls on one connection, and PostgreSQL's `SELECT 1` as the reference.
    ///
    /// - Returns: What the PostgreSQL connection negotiated, for the settings.
    func measureLatency() async throws -> PostgresRoundTrip.Session {
        let channel = self.makeChannel()
        defer { channel.close() }
        self.responseBytes = try await self.call.run(on: channel)
        _ = try await self.timeCalls(Self.latencyWarmUp, on: channel)

        var rpc = LatencySample()
        var postgres = LatencySample()
        var session: PostgresRoundTrip.Session?
        for round in 0..<Self.latencyRounds {
            let count =
                self.options.latencyCalls / Self.latencyRounds
                + (round < self.options.latencyCalls % Self.latencyRounds ? 1 : 0)
            printProgress("latency, round \(round + 1) of \(Self.latencyRounds): \(count) calls to each server")
            let (sample, negotiated) = try await PostgresRoundTrip.measure(
                connectionString: self.postgresConnectionString,
                warmUp: Self.latencyWarmUp,
                count: count
            )
            postgres.merge(sample)
            session = negotiated
            rpc.merge(try await self.timeCalls(count, on: channel))
        }
        self.reportLatency(rpc: rpc, postgres: postgres)
        guard let session else {
            throw BenchError("no latency round ran")
        }
        return session
    }

    /// Makes `count` calls one after another and times each.
    private func timeCalls(_ count: Int, on channel: RPCChannel) async throws -> LatencySample {
        var sample = LatencySample()
        for _ in 0..<count {
            let start = self.clock.now
            try await self.call.run(on: channel)
            sample.record(self.clock.now - start)
        }
        return sample
    }

    private func reportLatency(rpc: LatencySample, postgres: LatencySample) {
        self.report.add(
            "unary call latency, one connection",
            formatLatency(rpc.percentile(0.5)),
            note: "p50 of \(formatCount(rpc.count)) sequential calls; p99 \(formatLatency(rpc.percentile(0.99))), "
                + "p99.9 \(formatLatency(rpc.percentile(0.999)))"
        )
        self.report.add(
            "PostgreSQL `SELECT 1` over TLS, one connection",
            formatLatency(postgres.percentile(0.5)),
            note: "p50 of \(formatCount(postgres.count)) prepared executions; "
                + "p99 \(formatLatency(postgres.percentile(0.99))), "
                + "p99.9 \(formatLatency(postgres.percentile(0.999)))"
        )
        let ratio = rpc.percentile(0.5).seconds / postgres.percentile(0.5).seconds
        self.report.add(
            "RPC p50 / PostgreSQL p50",
            String(format: "%.2f×", ratio),
            note: Self.latencyTarget.verdict(for: ratio)
        )
    }
}
