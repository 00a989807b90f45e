import Foundation
import GnomonStore

/// What one minute of the steady-state run did, and what the live table looked like after it.
struct SteadyStateMinute {
    var completed = 0
    var elapsed: Duration = .zero
    /// Time spent in each kind of statement, and how many of each ran.
    var claimTime: Duration = .zero
    var claims = 0
    var completeTime: Duration = .zero
    var insertTime: Duration = .zero
    var inserts = 0
    var deadTuples = 0
    var autovacuums = 0
    /// The machine's one-minute load average at the end; this run alone accounts for about 2.
    var loadAverage = 0.0

    /// The average time of one statement, in milliseconds as the report prints them.
    static func average(_ total: Duration, over count: Int) -> String {
        formatMilliseconds(total / max(count, 1))
    }
}

extension StoreBenchmark {
    /// The target for the last minute's throughput, as a share of the first's.
    static let decayTarget = 0.80

    /// Claims 100, completes them and inserts as many new jobs, minute after minute.
    ///
    /// The pending count stays at `pendingRows` throughout, so the run shows whether dead
    /// rows left by claims and completes slow the claims down as they pile up.
    func measureSteadyState() throws {
        var minutes: [SteadyStateMinute] = []
        var turn = 0
        let pending = formatCount(self.options.pendingRows)
        self.progress("steady state: \(self.options.minutes) minutes at \(pending) pending")
        for number in 1...self.options.minutes {
            var minute = SteadyStateMinute()
            let start = self.clock.now
            while self.clock.now - start < .seconds(60) {
                try self.steadyStateTurn(lease: self.leases[turn % self.leases.count], into: &minute)
                turn += 1
            }
            minute.elapsed = self.clock.now - start
            (minute.deadTuples, minute.autovacuums) = try self.liveTableVacuumState()
            minute.loadAverage = MachineInfo.loadAverage()
            let summary = "\(formatCount(minute.completed)) jobs, \(formatCount(minute.deadTuples)) dead tuples"
            self.progress("  minute \(number): \(summary)")
            minutes.append(minute)
        }
        try self.reportSteadyState(minutes)
    }

    /// Claims up to 100 jobs of one shard, completes them and inserts as many, timing each step.
    private func steadyStateTurn(lease: ShardLease, into minute: inout SteadyStateMinute) throws {
        var start = self.clock.now
        let jobs = try self.store.claim(
            shard: lease,
            node: BenchNames.node,
            limit: 100,
            worker: BenchNames.worker,
            on: self.connection
        )
        minute.claimTime += self.clock.now - start
        minute.claims += 1

        start = self.clock.now
        var completed = 0
        for job in jobs {
            let done = try self.store.complete(
                jobID: job.id,
                shard: job.shard,
                leaseToken: job.leaseToken,
                resultJSON: nil,
                on: self.connection
            )
            completed += done ? 1 : 0
        }
        minute.completeTime += self.clock.now - start
        minute.completed += completed

        guard completed > 0 else {
            return
        }
        start = self.clock.now
        _ = try self.store.insert(Self.makeJobs(completed), tenantID: BenchNames.tenant, on: self.connection)
        minute.insertTime += self.clock.now - start
        minute.inserts += 1
    }

    private func reportSteadyState(_ minutes: [SteadyStateMinute]) throws {
        let first = minutes[0]
        let last = minutes[minutes.count - 1]
        for (index, minute) in minutes.enumerated() {
            self.report.add(
                "steady state, minute \(index + 1), jobs completed",
                formatCount(minute.completed),
                note: formatRate(minute.completed, per: minute.elapsed)
            )
        }
        let ratio = Double(last.completed) / Double(max(first.completed, 1))
        self.report.add(
            "steady state, minute \(minutes.count) / minute 1",
            String(format: "%.0f%%", ratio * 100),
            note: Self.verdict(
                met: ratio >= Self.decayTarget,
                target: "≥ 80%",
                by: String(format: "%+.0f points", (ratio - Self.decayTarget) * 100)
            )
        )
        self.report.add("pending rows at the end", formatCount(try self.pendingCount()))
        self.report.addSection(
            "Steady state, minute by minute",
            "Statement times are client-side averages. A claim that slows while the others keep "
                + "their pace points at dead rows in the due index; all three slowing together points "
                + "at the machine. The benchmark alone keeps the load average near 2.\n\n"
                + Self.minuteTable(minutes)
        )
        self.report.addSection("Dead tuples at the end, busiest partitions", try self.deadTupleTable())
    }

    private static func minuteTable(_ minutes: [SteadyStateMinute]) -> String {
        var lines = [
            "| minute | jobs completed | jobs/s | claim of 100 | one complete | insert of 100 "
                + "| dead tuples in live jobs after it | autovacuums of live jobs so far | load average |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for (index, minute) in minutes.enumerated() {
            let cells = [
                String(index + 1), formatCount(minute.completed), formatRate(minute.completed, per: minute.elapsed),
                SteadyStateMinute.average(minute.claimTime, over: minute.claims),
                SteadyStateMinute.average(minute.completeTime, over: minute.completed),
                SteadyStateMinute.average(minute.insertTime, over: minute.inserts),
                formatCount(minute.deadTuples), formatCount(minute.autovacuums),
                String(format: "%.2f", minute.loadAverage),
            ]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// The dead tuples in all live-job partitions, and how often autovacuum has run on them.
    private func liveTableVacuumState() throws -> (deadTuples: Int, autovacuums: Int) {
        let row = try self.connection.query(
            """
            SELECT coalesce(sum(n_dead_tup), 0) AS dead, coalesce(sum(autovacuum_count), 0) AS vacuums
            FROM pg_stat_user_tables WHERE relname LIKE 'gnomon\\_jobs\\_shard\\_%'
            """
        ).first
        return (try row?.int("dead") ?? 0, try row?.int("vacuums") ?? 0)
    }

    private func deadTupleTable() throws -> String {
        let rows = try self.connection.query(
            """
            SELECT relname, n_live_tup, n_dead_tup, n_tup_upd, n_tup_hot_upd, autovacuum_count,
                coalesce(to_char(now() - last_autovacuum, 'MI:SS'), 'never') AS since_vacuum
            FROM pg_stat_user_tables WHERE relname LIKE 'gnomon\\_jobs\\_shard\\_%'
            ORDER BY n_dead_tup DESC LIMIT 5
            """
        ).rows
        var lines = [
            "| partition | live tuples | dead tuples | updates | of them HOT | autovacuums | since last autovacuum |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in rows {
            let counts = try ["n_live_tup", "n_dead_tup", "n_tup_upd", "n_tup_hot_upd", "autovacuum_count"].map {
                formatCount(try row.int($0))
            }
            let cells = [try row.string("relname")] + counts + [try row.string("since_vacuum")]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        let intro =
            "Counts since the cluster was created; the live and dead tuples since the live table was "
            + "emptied for the due-job query. Updates are the claims; completes delete."
        return intro + "\n\n" + lines.joined(separator: "\n")
    }
}
