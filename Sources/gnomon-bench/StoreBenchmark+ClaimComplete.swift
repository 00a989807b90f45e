import Foundation
import GnomonStore

/// Jobs completed by one driver over the time it ran.
struct ThroughputTally {
    var jobs = 0
    var elapsed: Duration = .zero

    /// Completed jobs per second.
    var rate: Double {
        Double(self.jobs) / max(self.elapsed.seconds, 1e-9)
    }
}

extension StoreBenchmark {
    /// The target for JobStore's claim + complete throughput, as a share of the raw ceiling.
    static let ceilingTarget = 0.70

    /// Measures claim + complete through JobStore and through bare libpq, at batches of 1 and 100.
    ///
    /// The machine is shared, so the drivers take turns of about two seconds in the order
    /// JobStore, raw, raw, JobStore, and so on: a burst of load from elsewhere lands on both
    /// alike. Before each turn the pending jobs are topped up and the live table vacuumed, so
    /// that no turn pays for the dead rows of the one before.
    func measureClaimComplete() throws {
        let storeLoop = StoreClaimLoop(store: self.store, connection: self.connection, node: BenchNames.node)
        let rawLoop = try RawClaimLoop(connectionString: self.connectionString, node: BenchNames.node)
        try self.warmUp([storeLoop, rawLoop])
        try self.checkRawStatements()

        let turnsEach = max(1, self.options.claimSeconds / 2)
        let turnLength = Duration.seconds(self.options.claimSeconds) / turnsEach
        let pattern: [(Int, any ClaimCompleteLoop)] = [(0, storeLoop), (1, rawLoop), (1, rawLoop), (0, storeLoop)]
        for batch in [1, 100] {
            let turns = turnsEach == 1 ? "1 turn" : "\(turnsEach) turns"
            self.progress("claim + complete, batch \(batch): \(turns) of each driver")
            var tallies = [ThroughputTally(), ThroughputTally()]
            for turn in 0..<(2 * turnsEach) {
                let (index, loop) = pattern[turn % pattern.count]
                try self.refillPending(to: self.options.bulkJobs)
                let tally = try self.drive(loop, batch: batch, for: turnLength)
                tallies[index].jobs += tally.jobs
                tallies[index].elapsed += tally.elapsed
            }
            self.reportClaimComplete(batch: batch, store: tallies[0], raw: tallies[1])
        }
    }

    /// Claims and completes with `loop` for `duration`, rotating over the shards.
    ///
    /// - Throws: ``BenchError`` when a whole round of shards finds nothing to claim.
    func drive(_ loop: any ClaimCompleteLoop, batch: Int, for duration: Duration) throws -> ThroughputTally {
        let start = self.clock.now
        let deadline = start + duration
        var tally = ThroughputTally()
        var turn = 0
        var emptyInARow = 0
        while self.clock.now < deadline {
            let completed = try loop.claimAndComplete(lease: self.leases[turn % self.leases.count], limit: batch)
            tally.jobs += completed
            emptyInARow = completed == 0 ? emptyInARow + 1 : 0
            guard emptyInARow < self.leases.count else {
                throw BenchError("no shard had a due job left; raise --bulk-jobs")
            }
            turn += 1
        }
        tally.elapsed = self.clock.now - start
        return tally
    }

    private func reportClaimComplete(batch: Int, store: ThroughputTally, raw: ThroughputTally) {
        let label = "claim + complete, batch \(batch)"
        let storeNote = "\(formatCount(store.jobs)) jobs in \(formatMilliseconds(store.elapsed))"
        let rawNote = "the ceiling; \(formatCount(raw.jobs)) jobs in \(formatMilliseconds(raw.elapsed))"
        self.report.add("\(label), JobStore, jobs/s", formatRate(store.jobs, per: store.elapsed), note: storeNote)
        self.report.add("\(label), raw libpq, jobs/s", formatRate(raw.jobs, per: raw.elapsed), note: rawNote)
        let ratio = store.rate / raw.rate
        self.report.add(
            "\(label), JobStore / raw",
            String(format: "%.0f%%", ratio * 100),
            note: Self.verdict(
                met: ratio >= Self.ceilingTarget,
                target: "≥ 70%",
                by: String(format: "%+.0f points", (ratio - Self.ceilingTarget) * 100)
            )
        )
    }

    /// Runs each loop for a second, so that statements are prepared and caches warm.
    private func warmUp(_ loops: [any ClaimCompleteLoop]) throws {
        for loop in loops {
            _ = try self.drive(loop, batch: 10, for: .seconds(1))
        }
    }

    /// Checks that the raw loop runs the very statements JobStore prepared on its connection.
    ///
    /// - Throws: ``BenchError`` when a copy in ``RawStatements`` has drifted from JobStore's.
    private func checkRawStatements() throws {
        let prepared = Set(
            try self.connection.query("SELECT statement FROM pg_prepared_statements").rows.compactMap { $0[0] }
        )
        for (name, sql) in [("claim", RawStatements.claim), ("complete", RawStatements.complete)]
        where !prepared.contains(sql) {
            throw BenchError(
                "the raw \(name) statement differs from JobStore's; copy it again into RawStatements.swift"
            )
        }
    }

    /// A note saying whether a target was met, and by how much.
    static func verdict(met: Bool, target: String, by margin: String) -> String {
        "target \(target): " + (met ? "met" : "missed") + " (\(margin))"
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    var seconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}
