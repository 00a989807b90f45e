import Foundation
import GnomonStore

extension StoreBenchmark {
    /// Jobs are inserted this many per `JobStore.insert` call.
    static let insertBatch = 1_000

    /// Measures the bulk insert: `bulkJobs` jobs in batches of 1,000 through `JobStore.insert`.
    func measureBulkInsert() throws {
        self.progress("bulk insert: \(formatCount(self.options.bulkJobs)) jobs")
        let elapsed = try self.insertJobs(self.options.bulkJobs)
        self.report.add(
            "bulk insert, batches of \(formatCount(Self.insertBatch)), rows/s",
            formatRate(self.options.bulkJobs, per: elapsed),
            note: "\(formatCount(self.options.bulkJobs)) jobs in \(formatMilliseconds(elapsed)), one statement a batch"
        )
    }

    /// Inserts `count` new jobs through `JobStore.insert`, 1,000 a call.
    ///
    /// - Returns: How long it took.
    @discardableResult
    func insertJobs(_ count: Int) throws -> Duration {
        let start = self.clock.now
        var inserted = 0
        while inserted < count {
            let size = min(Self.insertBatch, count - inserted)
            _ = try self.store.insert(Self.makeJobs(size), tenantID: BenchNames.tenant, on: self.connection)
            inserted += size
            if inserted % 200_000 == 0 && inserted < count {
                self.progress("  \(formatCount(inserted)) of \(formatCount(count)) inserted")
            }
        }
        return self.clock.now - start
    }

    /// Inserts jobs until `target` are pending, then vacuums and analyzes the live jobs.
    ///
    /// Vacuuming between measurements gives each the same start: without it, a measurement
    /// would pay for the dead rows its predecessor left.
    func refillPending(to target: Int) throws {
        let missing = target - (try self.pendingCount())
        if missing > 0 {
            try self.insertJobs(missing)
        }
        try self.connection.execute(script: "VACUUM (ANALYZE) gnomon_jobs")
    }

    /// How many live jobs are pending or waiting to retry.
    func pendingCount() throws -> Int {
        let row = try self.connection.query(
            "SELECT count(*) AS n FROM gnomon_jobs WHERE state IN ('pending', 'retry_wait')"
        ).first
        return try row?.int("n") ?? 0
    }

    /// Small jobs due at once, as a worker queue would receive them.
    static func makeJobs(_ count: Int) -> [NewJob] {
        (0..<count).map { index in
            NewJob(queue: BenchNames.queue, jobType: "bench.noop", payloadJSON: "{\"n\":\(index)}")
        }
    }
}
