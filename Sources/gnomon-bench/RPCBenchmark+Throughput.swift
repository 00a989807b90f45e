import Foundation
import GnomonNetwork

/// The calls one caller task completed within the counted window, and those that failed.
struct CallerTally: Sendable {
    var latencies = LatencySample()
    var failures = 0
    var firstFailure: String?

    /// Adds another caller's tally.
    mutating func merge(_ other: CallerTally) {
        self.latencies.merge(other.latencies)
        self.failures += other.failures
        self.firstFailure = self.firstFailure ?? other.firstFailure
    }
}

/// When a throughput run starts counting and when it stops calling.
struct CountingWindow: Sendable {
    var start: ContinuousClock.Instant
    var end: ContinuousClock.Instant

    /// Whether a call that finished at `instant` counts.
    func contains(_ instant: ContinuousClock.Instant) -> Bool {
        instant >= self.start && instant < self.end
    }
}

extension RPCBenchmark {
    /// Calls as fast as `connections` connections allow, each with ``callsInFlight`` callers.
    ///
    /// Calls finishing within the counted window count, after a warm-up in which they do not.
    /// The CPU time both processes used over the run is reported beside the rate.
    ///
    /// - Parameters:
    ///   - connections: How many connections, each an `RPCChannel` of its own.
    ///   - target: The rate to reach, if this run has one.
    func measureThroughput(connections: Int, target: BenchTarget?) async throws {
        let label = "\(connections) connections × \(Self.callsInFlight) calls in flight"
        printProgress("throughput, \(label): \(self.options.warmUp) warm-up, \(self.options.duration) counted")
        let channels = (0..<connections).map { _ in self.makeChannel() }
        defer {
            for channel in channels {
                channel.close()
            }
        }
        try await self.connect(channels)

        let serverBefore = try self.server.status()
        let clientBefore = try ProcessStatus.read()
        let began = self.clock.now
        let start = began + self.options.warmUp
        let window = CountingWindow(start: start, end: start + self.options.duration)
        let tally = await self.drive(channels, window: window)
        let elapsed = self.clock.now - began
        let serverUsed = try self.server.status().cpuTime - serverBefore.cpuTime
        let clientUsed = try ProcessStatus.read().cpuTime - clientBefore.cpuTime

        let rate = Double(tally.latencies.count) / self.options.duration.seconds
        var note =
            (target.map { $0.verdict(for: rate) + "; " } ?? "")
            + "latency p50 \(formatLatency(tally.latencies.percentile(0.5))), "
            + "p99 \(formatLatency(tally.latencies.percentile(0.99))); "
            + String(format: "CPU: server %.2f cores, ", serverUsed.seconds / elapsed.seconds)
            + String(format: "client %.2f cores", clientUsed.seconds / elapsed.seconds)
        if tally.failures > 0 {
            note += "; \(formatCount(tally.failures)) calls failed, the first with: \(tally.firstFailure ?? "?")"
            printError("  \(formatCount(tally.failures)) calls failed; the first: \(tally.firstFailure ?? "?")")
        }
        self.report.add(
            "calls per second, \(label)", formatRate(tally.latencies.count, per: self.options.duration), note: note)
    }

    /// Runs ``callsInFlight`` callers on each channel until the window ends.
    func drive(_ channels: [RPCChannel], window: CountingWindow) async -> CallerTally {
        let call = self.call
        let clock = self.clock
        return await withTaskGroup(of: CallerTally.self) { group in
            for channel in channels {
                for _ in 0..<Self.callsInFlight {
                    group.addTask { await Self.callRepeatedly(call, on: channel, window: window, clock: clock) }
                }
            }
            var total = CallerTally()
            for await tally in group {
                total.merge(tally)
            }
            return total
        }
    }

    /// One caller: calls one after another until the window ends, timing those that count.
    private static func callRepeatedly(
        _ call: StatusCall,
        on channel: RPCChannel,
        window: CountingWindow,
        clock: ContinuousClock
    ) async -> CallerTally {
        var tally = CallerTally()
        while clock.now < window.end {
            let start = clock.now
            do {
                try await call.run(on: channel)
                let finish = clock.now
                if window.contains(finish) {
                    tally.latencies.record(finish - start)
                }
            } catch {
                tally.failures += 1
                tally.firstFailure = tally.firstFailure ?? "\(error)"
                // A broken connection fails calls at once; do not spin on it.
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        return tally
    }
}
