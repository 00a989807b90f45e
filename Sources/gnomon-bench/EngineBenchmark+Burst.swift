import Foundation
import GnomonProtocol

extension EngineBenchmark {
    /// The batched submission rate to reach.
    static let submitTarget = BenchTarget.atLeast(50_000, "50,000/s")
    /// The drain rate to reach.
    static let drainTarget = BenchTarget.atLeast(15_000, "15,000/s")
    /// How long a drain may make no progress before it counts as stalled.
    static let drainStall: Duration = .seconds(30)

    /// Submits the burst in batches with no worker connected, then drains it with the workers.
    ///
    /// The requests are encoded before the clock starts, so the submit rate is the server's and
    /// the transport's. The drain counts from the moment the lease streams open to the last
    /// acknowledged completion.
    ///
    /// - Throws: ``BenchError`` when the jobs cannot be encoded.
    func measureBurst() async throws {
        let run = self.nextRun()
        let queue = Self.queue(of: run)
        let count = self.options.burstJobs
        let payload = BenchJobPayload(run: run, time: 0).json
        let requests = try stride(from: 0, to: count, by: BatchSubmitter.batchSize).map { first in
            let jobs = (first..<min(first + BatchSubmitter.batchSize, count)).map { _ in
                V1.JobSpec(queue: queue, payloadJSON: payload)
            }
            return try V1.SubmitJobsRequest(jobs: jobs).serializedBytes()
        }
        let connections = self.options.submitConnections
        let inFlight = connections * self.options.batchesInFlight
        printProgress(
            "burst: submitting \(formatCount(count)) jobs in batches of 1,000, \(inFlight) calls in flight "
                + "on \(connections) connections")
        let before = self.cpuTimes()
        let submitted = await self.profiled("burst: submit") {
            await self.makeSubmitter().submit(encoded: requests)
        }
        let rate = Double(submitted.accepted) / max(submitted.elapsed.seconds, 1e-9)
        self.report.add(
            "burst: jobs submitted per second, batches of 1,000",
            formatRate(submitted.accepted, per: submitted.elapsed),
            note: Self.submitTarget.verdict(for: rate) + "; \(formatCount(submitted.accepted)) jobs in "
                + "\(formatMilliseconds(submitted.elapsed)), \(inFlight) calls in flight on \(connections) "
                + "connections; call p50 \(formatLatency(submitted.calls.percentile(0.5))), "
                + "p99 \(formatLatency(submitted.calls.percentile(0.99))); "
                + self.cpuTimes().usage(since: before, over: submitted.elapsed) + submitted.failureNote
        )
        try await self.profiled("burst: drain") {
            try await self.drainBurst(run: run, queue: queue, count: submitted.accepted)
        }
    }

    private func drainBurst(run: Int, queue: String, count: Int) async throws {
        let streams = self.options.workerStreams
        let capacity = self.options.workerCapacity
        printProgress("burst: draining with \(streams) lease streams of capacity \(capacity)")
        let before = self.cpuTimes()
        let start = self.clock.now
        let workers = try self.startWorkers(queue: queue)
        let limit = self.clock.instant(at: start) + self.options.drainLimit
        let drained = await self.log.wait(
            run: run, for: count, completions: true, stall: Self.drainStall, deadline: limit)
        let cpu = self.cpuTimes().usage(since: before, over: .microseconds(self.clock.now - start))
        let tally = self.log.tally(run)
        await workers.stop()
        let end = tally.lastCompletion ?? self.clock.now
        let elapsed = Duration.microseconds(end - start)
        let rate = Double(tally.completed) / max(elapsed.seconds, 1e-9)
        var note =
            Self.drainTarget.verdict(for: rate) + "; \(formatCount(tally.completed)) jobs completed in "
            + "\(formatMilliseconds(elapsed)) by \(streams) lease streams of capacity \(capacity), one connection "
            + "each; first job received \(LatencyDistribution.text((tally.firstReceipt ?? start) - start)) after "
            + "the streams opened; " + cpu
        if !drained && ContinuousClock.now >= limit {
            note +=
                "; the drain was stopped at the limit of \(Int(self.options.drainLimit.seconds)) s "
                + "(`--drain-seconds`) with \(formatCount(count - tally.completed)) jobs left in the queue, so the "
                + "rate is over the jobs completed by then"
        } else if !drained {
            note +=
                "; STALLED: no completion for \(Int(Self.drainStall.seconds)) s after \(formatCount(tally.completed)) "
                + "of \(formatCount(count)) (\(formatCount(tally.received)) received)"
        }
        self.report.add("burst: jobs drained per second", formatRate(tally.completed, per: elapsed), note: note)
    }
}
