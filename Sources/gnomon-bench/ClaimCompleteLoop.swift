import Foundation
import GnomonStore

/// One way of claiming due jobs of a shard and completing each of them.
protocol ClaimCompleteLoop {
    /// Names the driver in the report, such as `JobStore` or `raw libpq`.
    var name: String { get }

    /// Claims up to `limit` due jobs of the lease's shard and completes each one.
    ///
    /// - Returns: How many jobs were completed.
    func claimAndComplete(lease: ShardLease, limit: Int) throws -> Int
}

/// Claims and completes through ``JobStore`` and ``PostgresConnection``, as the server will.
struct StoreClaimLoop: ClaimCompleteLoop {
    let store: JobStore
    let connection: PostgresConnection
    let node: String

    var name: String { "JobStore" }

    func claimAndComplete(lease: ShardLease, limit: Int) throws -> Int {
        let jobs = try self.store.claim(
            shard: lease,
            node: self.node,
            limit: limit,
            worker: BenchNames.worker,
            on: self.connection
        )
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
        return completed
    }
}

/// The names the benchmark's rows and leases carry.
enum BenchNames {
    static let tenant = "bench"
    static let node = "bench"
    static let worker = "bench-worker"
    static let queue = "bench"
}
