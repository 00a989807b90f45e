import Foundation

extension EngineBenchmark {
    /// The p99 to stay under at ``steadyTargetRate``, in milliseconds.
    static let steadyTarget = BenchTarget.atMost(20, "20 ms")
    static let steadyTargetRate = 2_000
    /// The p99 under which a rate counts as sustained, in microseconds.
    static let sustainedP99: Int64 = 100_000
    /// How long a run waits for its last jobs once the producer has stopped.
    static let steadyGrace: Duration = .seconds(10)

    /// Runs the open-loop producer at each rate, then reports the highest rate it sustained.
    func measureSteady() async {
        for rate in self.options.steadyRates {
            let latencies = await self.measureOpenLoop(rate: rate, label: "steady \(formatCount(rate)) jobs/s")
            self.steadyLatencies[rate] = latencies
        }
        let sustained = self.options.steadyRates.filter { rate in
            self.steadyLatencies[rate]?.percentile(0.99).map { $0 < Self.sustainedP99 } ?? false
        }
        let tried = self.options.steadyRates.map { formatCount($0) }.joined(separator: ", ")
        self.report.add(
            "steady: highest rate with p99 < 100 ms",
            sustained.last.map { "\(formatCount($0)) jobs/s" } ?? "none",
            note: "of the rates run: \(tried) jobs/s"
        )
    }

    /// Submits at `rate` for the steady duration and reports the latency from each job's
    /// intended submission to its receipt by a worker.
    ///
    /// - Parameters:
    ///   - rate: Jobs per second.
    ///   - label: The row's name in the report.
    ///   - baseline: An earlier run's latencies whose p99 this run's is compared with.
    /// - Returns: The run's latencies, lost jobs included.
    @discardableResult
    func measureOpenLoop(
        rate: Int,
        label: String,
        baseline: (LatencyDistribution, BenchTarget)? = nil
    ) async -> LatencyDistribution {
        let run = self.nextRun()
        printProgress("\(label): open loop for \(self.options.steadyDuration), one SubmitJob call per job")
        let before = self.cpuTimes()
        let start = self.clock.now
        let submitted = await self.makeProducer().run(run, rate: rate, duration: self.options.steadyDuration)
        let deadline = self.clock.instant(at: submitted.lastIntended) + Self.steadyGrace
        _ = await self.log.wait(run: run, for: submitted.planned, stall: Self.steadyGrace, deadline: deadline)
        let cpu = self.cpuTimes().usage(since: before, over: .microseconds(self.clock.now - start))
        let tally = self.log.tally(run)
        // Completions still in flight would land in the next run's time.
        _ = await self.log.wait(run: run, for: tally.received, completions: true, stall: .seconds(5))

        let latencies = LatencyDistribution(measured: tally.latencies, lost: submitted.planned - tally.received)
        var verdict = ""
        if let (reference, target) = baseline {
            verdict = Self.ratioVerdict(latencies, to: reference, target: target)
        } else if rate == Self.steadyTargetRate {
            verdict = Self.p99Verdict(latencies, target: Self.steadyTarget) + "; "
        }
        let span = Duration.microseconds(max(submitted.lastIntended - start, 1))
        var note =
            verdict + "p50 \(latencies.text(0.5)), p99.9 \(latencies.text(0.999)), "
            + "max \(LatencyDistribution.text(latencies.maximum)); \(formatCount(submitted.planned)) planned, "
            + "\(formatCount(submitted.accepted)) acknowledged (\(formatRate(submitted.accepted, per: span))), "
            + "\(formatCount(tally.received)) received; SubmitJob call p50 "
            + "\(formatLatency(submitted.calls.percentile(0.5))), p99 \(formatLatency(submitted.calls.percentile(0.99))); "
            + "producer at worst \(LatencyDistribution.text(submitted.worstStartDelay)) behind its timetable; \(cpu)"
        if submitted.failed > 0 {
            note +=
                "; \(formatCount(submitted.failed)) submissions failed, the first with: \(submitted.firstFailure ?? "?")"
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
