import Foundation

extension EngineBenchmark {
    /// The p99 to stay under at ``steadyTargetRate``, in milliseconds.
    static let steadyTarget = BenchTarget.atMost(20, "20 ms")
    static let steadyTargetRate = 2_000
    /// The p99 under which a rate counts as sustained, in microseconds.
    static let sustainedP99: Int64 = 100_000
    /// How long a run waits for its last jobs once the producer has stopped.
    static let steadyGrace: Duration = .seconds(10)

    /// Runs the open-loop producer at each rate with immediate jobs, then at the scheduled rates
    /// with jobs due a little after their submission, and reports the highest rate sustained.
    ///
    /// - Throws: ``ProtocolError`` when the workers' request cannot be encoded.
    func measureSteady() async throws {
        for rate in self.options.steadyRates {
            let label = "steady \(formatCount(rate)) jobs/s"
            let latencies = try await self.profiled(label) {
                try await self.measureOpenLoop(rate: rate, label: label, lead: .zero)
            }
            self.steadyLatencies[rate] = latencies
        }
        let sustained = self.options.steadyRates.filter { rate in
            self.steadyLatencies[rate]?.percentile(0.99).map { $0 < Self.sustainedP99 } ?? false
        }
        let tried = self.options.steadyRates.map { formatCount($0) }.joined(separator: ", ")
        self.report.add(
            "steady: highest rate with p99 < 100 ms",
            sustained.last.map { "\(formatCount($0)) jobs/s" } ?? "none",
            note: "of the rates run with immediate jobs: \(tried) jobs/s"
        )
        let lead = self.options.scheduledLead
        for rate in self.options.scheduledRates {
            let label = "scheduled \(formatCount(rate)) jobs/s, due \(Int(lead.seconds * 1_000)) ms after submission"
            try await self.profiled(label) {
                try await self.measureOpenLoop(rate: rate, label: label, lead: lead)
            }
        }
    }

    /// Submits at `rate` for the steady duration to a queue of its own, with the workers on it,
    /// and reports the latency from each job's due time to its receipt by a worker.
    ///
    /// An immediate job's due time is taken as its intended submission time: the job becomes due
    /// when its insert starts, a little later, so the figure includes the `SubmitJob` call and is
    /// an upper bound.
    ///
    /// - Parameters:
    ///   - rate: Jobs per second.
    ///   - label: The row's name in the report.
    ///   - lead: How long after its intended submission each job is due; immediate when zero.
    ///   - queue: The queue, holding a backlog already; a fresh one when `nil`.
    ///   - baseline: An earlier run's latencies whose p99 this run's is compared with.
    /// - Returns: The run's latencies, lost jobs included.
    /// - Throws: ``ProtocolError`` when the workers' request cannot be encoded.
    @discardableResult
    func measureOpenLoop(
        rate: Int,
        label: String,
        lead: Duration,
        queue: String? = nil,
        baseline: (LatencyDistribution, BenchTarget)? = nil
    ) async throws -> LatencyDistribution {
        let run = self.nextRun()
        let queue = queue ?? Self.queue(of: run)
        printProgress("\(label): open loop for \(self.options.steadyDuration), one SubmitJob call per job")
        let workers = try self.startWorkers(queue: queue)
        let before = self.cpuTimes()
        let start = self.clock.now
        let submitted = await self.makeProducer(queue: queue, lead: lead).run(
            run, rate: rate, duration: self.options.steadyDuration)
        let lastDue = submitted.lastIntended + Int64(lead.seconds * 1e6)
        let deadline = self.clock.instant(at: lastDue) + Self.steadyGrace
        _ = await self.log.wait(run: run, for: submitted.sent, stall: Self.steadyGrace, deadline: deadline)
        let cpu = self.cpuTimes().usage(since: before, over: .microseconds(self.clock.now - start))
        let tally = self.log.tally(run)
        // Completions still in flight would land in the next run's time.
        _ = await self.log.wait(run: run, for: tally.received, completions: true, stall: .seconds(5))
        await workers.stop()

        let latencies = LatencyDistribution(measured: tally.latencies, lost: submitted.planned - tally.received)
        var verdict = ""
        if let (reference, target) = baseline {
            verdict = Self.ratioVerdict(latencies, to: reference, target: target)
        } else if rate == Self.steadyTargetRate {
            verdict = Self.p99Verdict(latencies, target: Self.steadyTarget) + "; "
        }
        let span = Duration.microseconds(max(submitted.lastIntended - start, 1))
        let started = Duration.microseconds(max((tally.lastReceipt ?? start) - (tally.firstReceipt ?? start), 1))
        var note =
            verdict + "p50 \(latencies.text(0.5)), p99.9 \(latencies.text(0.999)), "
            + "max \(LatencyDistribution.text(latencies.maximum)); \(formatCount(submitted.planned)) planned, "
            + "\(formatCount(submitted.accepted)) acknowledged (\(formatRate(submitted.accepted, per: span))), "
            + "\(formatCount(tally.received)) started (\(formatRate(tally.received, per: started))); "
            + "SubmitJob call p50 \(formatLatency(submitted.calls.percentile(0.5))), "
            + "p99 \(formatLatency(submitted.calls.percentile(0.99))); "
            + "producer at worst \(LatencyDistribution.text(submitted.worstStartDelay)) behind its timetable; \(cpu)"
        if let stoppedAt = submitted.stoppedAt {
            let sent = LatencyDistribution(measured: tally.latencies, lost: submitted.sent - tally.received)
            note +=
                "; OVERLOADED: the producer stopped \(LatencyDistribution.text(stoppedAt - start)) in, with "
                + "\(formatCount(max(1_000, rate * OpenLoopProducer.overloadSeconds))) calls unanswered; the "
                + "\(formatCount(submitted.planned - submitted.sent)) jobs it did not send count as lost; of the "
                + "\(formatCount(submitted.sent)) sent: p50 \(sent.text(0.5)), p99 \(sent.text(0.99))"
        }
        if submitted.failed > 0 {
            note +=
                "; \(formatCount(submitted.failed)) submissions failed, the first with: "
                + (submitted.firstFailure ?? "?")
        }
        self.report.add("\(label): start latency p99", latencies.text(0.99), note: note)
        return latencies
    }

    /// `target ≤ 20 ms: met` for a p99, or why it is missed when jobs were lost.
    static func p99Verdict(_ latencies: LatencyDistribution, target: BenchTarget) -> String {
        guard let p99 = latencies.percentile(0.99) else {
            return "target p99 ≤ \(target.limitText): missed, more than 1% of the jobs lost"
        }
        return target.verdict(for: Double(p99) / 1_000).replacingOccurrences(of: "target", with: "target p99")
    }

    /// The ratio of two runs' p99s with its verdict, such as `p99 1.21× the empty run's; target ≤ 1.5×: met; `.
    static func ratioVerdict(_ latencies: LatencyDistribution, to reference: LatencyDistribution, target: BenchTarget)
        -> String
    {
        guard let p99 = latencies.percentile(0.99), let base = reference.percentile(0.99), base > 0 else {
            return "p99 not comparable with the empty run's (jobs lost); target ≤ \(target.limitText): missed; "
        }
        let ratio = Double(p99) / Double(base)
        return String(format: "p99 %.2f× ", ratio) + "the empty run's (\(LatencyDistribution.text(base))); "
            + target.verdict(for: ratio) + "; "
    }
}
