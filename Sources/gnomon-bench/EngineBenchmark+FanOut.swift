import Foundation
import GnomonProtocol

extension EngineBenchmark {
    /// The latest a fan-out job may start after its due time, in milliseconds.
    static let fanOutTarget = BenchTarget.atMost(1_000, "1 s")

    /// Submits the fan-out's jobs, all due at one instant a few seconds ahead, and reports how
    /// late after that instant the workers received them.
    ///
    /// - Throws: ``ProtocolError`` when the workers' request cannot be encoded.
    func measureFanOut() async throws {
        try await self.profiled("fan-out") {
            try await self.measureFanOutRun()
        }
    }

    private func measureFanOutRun() async throws {
        let run = self.nextRun()
        let queue = Self.queue(of: run)
        let workers = try self.startWorkers(queue: queue)
        let count = self.options.fanOutJobs
        let lead = self.options.fanOutLead
        let dueUnixMilliseconds = self.clock.unixMilliseconds(atOrAfter: self.clock.now + Int64(lead.seconds * 1e6))
        let due = self.clock.microseconds(unixMilliseconds: dueUnixMilliseconds)
        printProgress("fan-out: \(formatCount(count)) jobs due at one instant, \(lead) after submission starts")
        let payload = BenchJobPayload(run: run, time: due).json
        let submitted = await self.makeSubmitter().submit(count: count) { _ in
            V1.JobSpec(queue: queue, payloadJSON: payload, start: .runAtUnixMs(dueUnixMilliseconds))
        }
        let margin = due - self.clock.now
        let before = self.cpuTimes()
        let measuredFrom = self.clock.now
        let deadline = self.clock.instant(at: due) + .seconds(60)
        let received = await self.log.wait(
            run: run, for: submitted.accepted, stall: lead + .seconds(15), deadline: deadline)
        let cpu = self.cpuTimes().usage(since: before, over: .microseconds(self.clock.now - measuredFrom))
        let tally = self.log.tally(run)
        _ = await self.log.wait(run: run, for: tally.received, completions: true, stall: .seconds(5))
        await workers.stop()

        let lags = LatencyDistribution(measured: tally.latencies, lost: submitted.accepted - tally.received)
        let withinTarget = tally.latencies.count { $0 <= Int64(Self.fanOutTarget.limit * 1_000) }
        let verdict =
            lags.maximum.map { Self.fanOutTarget.verdict(for: Double($0) / 1_000) }
            ?? "target ≤ 1 s: missed, \(formatCount(lags.lost)) jobs never received"
        var note =
            "\(verdict); p50 \(lags.text(0.5)), p99 \(lags.text(0.99)), "
            + "first \(LatencyDistribution.text(lags.measured.first)); "
            + "\(formatCount(withinTarget)) of \(formatCount(submitted.accepted)) started within 1 s; submission "
            + "(batches of 1,000) ended \(LatencyDistribution.text(margin)) before the due time; \(cpu)"
            + submitted.failureNote
        if margin < 0 {
            note += "; the submission outlasted the lead, so the lag includes submitting"
        }
        if !received {
            note += "; not all received within 60 s of the due time"
        }
        self.report.add(
            "fan-out: \(formatCount(count)) jobs due at one instant, lag of the last",
            LatencyDistribution.text(lags.maximum), note: note)
    }
}
