import Foundation
import GnomonStore

extension StoreBenchmark {
    /// The read part of the claim: due jobs of one shard, oldest first, without locking them.
    static let dueSQL = """
        SELECT id FROM gnomon_jobs
        WHERE shard = $1 AND state IN ('pending', 'retry_wait') AND due_at <= now()
        ORDER BY due_at
        LIMIT 100
        """

    /// The same scan with one row back, which separates the scan's cost from sending 100 rows.
    static let dueCountSQL = "SELECT count(*) FROM (\n" + dueSQL + "\n) AS due"

    /// Times the due-job query with no, a tenth of and all of `pendingRows` jobs pending.
    ///
    /// The live table is emptied first; after each load it is vacuumed and analyzed, as
    /// autovacuum would leave it. The plan at the largest size is recorded.
    func measureDueQuery() throws {
        try self.connection.execute(script: "TRUNCATE gnomon_jobs")
        var medians: [(rows: Duration, count: Duration)] = []
        for size in [0, self.options.pendingRows / 10, self.options.pendingRows] {
            try self.refillPending(to: size)
            self.progress("due-job query, \(formatCount(size)) pending")
            let (rows, count) = try self.timeDueQuery(runs: self.options.dueQueryRuns)
            medians.append((rows.percentile(0.5), count.percentile(0.5)))
            self.report.add(
                "due-job query, \(formatCount(size)) pending",
                formatMilliseconds(rows.percentile(0.5)),
                note: "median; p99 \(formatMilliseconds(rows.percentile(0.99))), "
                    + String(format: "%.0f rows a run; ", rows.averageRows)
                    + "count(*) of it: median \(formatMilliseconds(count.percentile(0.5))), "
                    + "p99 \(formatMilliseconds(count.percentile(0.99)))"
            )
        }
        self.reportDueRatio(empty: medians[0], full: medians[2])
        try self.recordDuePlans()
    }

    private func reportDueRatio(empty: (rows: Duration, count: Duration), full: (rows: Duration, count: Duration)) {
        let ratio = full.rows.seconds / empty.rows.seconds
        let countRatio = full.count.seconds / empty.count.seconds
        self.report.add(
            "due-job query, \(formatCount(self.options.pendingRows)) / empty",
            String(format: "%.2f×", ratio),
            note: Self.verdict(met: ratio <= 2, target: "≤ 2×", by: String(format: "%.2f× of 2×", ratio))
                + String(format: "; count(*) of it: %.2f×", countRatio)
        )
    }

    /// Runs the due-job query and its count `runs` times each, alternating, after a warm-up.
    private func timeDueQuery(runs: Int) throws -> (rows: LatencySample, count: LatencySample) {
        var rows = LatencySample()
        var count = LatencySample()
        let warmUp = 50
        for run in 0..<(warmUp + runs) {
            let shard = run % self.leases.count
            let (rowsTime, returned) = try self.time(Self.dueSQL, shard: shard)
            let (countTime, _) = try self.time(Self.dueCountSQL, shard: shard)
            if run >= warmUp {
                rows.record(rowsTime, rows: returned)
                count.record(countTime, rows: 1)
            }
        }
        return (rows, count)
    }

    private func time(_ sql: String, shard: Int) throws -> (Duration, Int) {
        let start = self.clock.now
        let result = try self.connection.query(sql, [shard])
        return (self.clock.now - start, result.rows.count)
    }

    /// Records the custom plan for one shard and the generic plan a prepared statement may use.
    private func recordDuePlans() throws {
        let literal = Self.dueSQL.replacingOccurrences(of: "$1", with: "0")
        let custom = try self.explain("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + literal)

        try self.connection.execute(script: "PREPARE bench_due (smallint) AS " + Self.dueSQL)
        try self.connection.execute(script: "SET plan_cache_mode = force_generic_plan")
        let generic = try self.explain("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE bench_due (0)")
        try self.connection.execute(script: "RESET plan_cache_mode; DEALLOCATE bench_due")

        let index = try self.dueIndexName(shard: 0)
        let uses = custom.contains(index) && generic.contains(index)
        self.report.add(
            "due-job plan at \(formatCount(self.options.pendingRows)) pending",
            uses ? "index scan" : "NOT the due index",
            note: "`\(index)`, shard 0's partition of `gnomon_jobs_due_idx`; plans below"
        )
        self.report.addSection(
            "Due-job query plans at \(formatCount(self.options.pendingRows)) pending",
            "Shard 0, planned for its value:\n\n```\n\(custom)\n```\n\n"
                + "The generic plan a prepared statement may switch to, pruned when it runs:\n\n```\n\(generic)\n```"
        )
    }

    private func explain(_ sql: String) throws -> String {
        try self.connection.query(sql).rows.compactMap { $0[0] }.joined(separator: "\n")
    }

    /// The name of the partition index that `gnomon_jobs_due_idx` has on one shard's partition.
    private func dueIndexName(shard: Int) throws -> String {
        let row = try self.connection.query(
            """
            SELECT c.relname FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_index x ON x.indexrelid = c.oid
            WHERE i.inhparent = 'gnomon_jobs_due_idx'::regclass
                AND x.indrelid = ('gnomon_jobs_shard_' || $1)::regclass
            """,
            [shard]
        ).first
        guard let name = row?[0] else {
            throw BenchError("shard \(shard)'s partition has no index attached to gnomon_jobs_due_idx")
        }
        return name
    }
}
