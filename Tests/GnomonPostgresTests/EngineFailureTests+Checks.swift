import Foundation
import GnomonNetwork
import GnomonProtocol
import GnomonStore
import GnomonTestSupport
import Testing

extension EngineFailureTests {
    static let tenant = "acme"
    static let queue = "chaos"
    static let leaseTTL = Duration.seconds(2)

    /// A job of the test queue whose worker abandons its first `abandonAttempts` attempts.
    static func spec(_ number: Int, abandonAttempts: Int = 0, attemptTimeoutMs: Int64) -> V1.JobSpec {
        V1.JobSpec(
            queue: Self.queue,
            payloadJSON: Array("{\"n\":\(number),\"abandon_attempts\":\(abandonAttempts)}".utf8),
            maxAttempts: 10,
            backoff: V1.BackoffPolicy(initialDelayMs: 20, maxDelayMs: 100),
            attemptTimeoutMs: attemptTimeoutMs)
    }

    /// Submits `specs` in one call and returns the ids of the jobs made.
    static func submit(_ specs: [V1.JobSpec], through channel: RPCChannel, token: String) async throws -> [String] {
        let response: V1.SubmitJobsResponse = try await channel.call(
            .submitJobs, V1.SubmitJobsRequest(jobs: specs), token: token)
        let ids = response.results.compactMap { result -> String? in
            if case .job(let job) = result.outcome { return job.id }
            return nil
        }
        #expect(ids.count == specs.count, "some submissions were refused: \(response.results)")
        return ids
    }

    /// Submits batches of 160 jobs until every shard has at least one, and returns their ids.
    static func submitToEveryShard(
        through channel: RPCChannel,
        token: String,
        store: JobStore,
        abandonAttempts: Int,
        attemptTimeoutMs: Int64
    ) async throws -> [String] {
        var ids: [String] = []
        var shards = Set<Int>()
        for _ in 0..<4 where shards.count < store.shardCount {
            let specs = (ids.count..<ids.count + 160).map {
                Self.spec($0, abandonAttempts: abandonAttempts, attemptTimeoutMs: attemptTimeoutMs)
            }
            let batch = try await Self.submit(specs, through: channel, token: token)
            ids += batch
            shards.formUnion(batch.compactMap { UUID(uuidString: $0).map(store.shard(of:)) })
        }
        #expect(shards.count == store.shardCount, "the jobs landed on \(shards.count) shards only")
        return ids
    }

    /// Checks that every job in `ids` succeeded exactly once, that no attempt was delivered
    /// twice, and that no attempt started while the one before it still held its lease.
    ///
    /// The timing is the database's: an attempt is ended for expiry only once its lease
    /// expired, `attemptTimeoutMs` or more after it started (heartbeats only extend it), and
    /// the next one is claimed only after that.
    static func expectCompletedExactlyOnce(
        _ ids: [String],
        database: TestDatabase,
        ledger: DeliveryLedger,
        attemptTimeoutMs: Int64
    ) async throws {
        let history = try await database.historyRowCounts(ids)
        let attempts = try await database.finishedAttempts(ids)
        let deliveries = ledger.deliveriesByJob
        let acknowledged = ledger.acknowledgedCompletions
        var problems: [String] = []
        for id in ids {
            let finished = attempts[id] ?? []
            let delivered = (deliveries[id] ?? []).map { Int($0.attempt) }
            let succeeded = finished.count { $0.outcome == "succeeded" }
            if history[id] != 1 || succeeded != 1 {
                problems.append("\(id): \(history[id] ?? 0) history rows, attempts \(finished.map(\.outcome))")
            }
            if (acknowledged[id] ?? 0) > 1 {
                problems.append("\(id): completion acknowledged \(acknowledged[id] ?? 0) times")
            }
            if Set(delivered).count != delivered.count || !delivered.allSatisfy({ (1...finished.count).contains($0) }) {
                problems.append("\(id): attempts delivered \(delivered), finished \(finished.map(\.number))")
            }
            if finished.map(\.number) != Array(1..<finished.count + 1) {
                problems.append("\(id): attempt numbers \(finished.map(\.number))")
            }
            for (previous, next) in zip(finished, finished.dropFirst()) {
                let held = previous.finishedAtMicroseconds - previous.startedAtMicroseconds
                if previous.outcome != "timed_out" || held < attemptTimeoutMs * 1_000
                    || next.startedAtMicroseconds < previous.finishedAtMicroseconds
                {
                    problems.append(
                        "\(id): attempt \(previous.number) \(previous.outcome) after \(held) µs, "
                            + "attempt \(next.number) started \(next.startedAtMicroseconds - previous.finishedAtMicroseconds) µs "
                            + "after it ended")
                }
            }
        }
        #expect(problems.isEmpty, "\(problems.count) jobs went wrong, such as \(problems.prefix(5))")
    }

    /// Checks that every attempt ended for expiry was ended by the node that held its shard's
    /// current lease, as the fence in SQL requires.
    static func expectFenced(_ reaps: [RecordedReap]) {
        let unfenced = reaps.filter { reap in
            !reap.leaseCurrent || reap.writer != GnomondNode.applicationName(reap.leaseOwner ?? "")
        }
        #expect(unfenced.isEmpty, "attempts ended by a node without the shard's lease: \(unfenced.prefix(5))")
    }

    /// Waits for the nodes to work again after a disruption at `instant`: submissions are
    /// acknowledged, workers are given jobs, and the two nodes own eight shards each.
    static func expectRecovery(
        after instant: ContinuousClock.Instant,
        _ what: String,
        cluster: GnomondCluster,
        submitter: JobSubmitter,
        ledger: DeliveryLedger
    ) async throws {
        try await eventually(within: .seconds(60), "submissions acknowledged again \(what)") {
            submitter.acknowledgedCount(after: instant) >= 10
        }
        try await eventually(within: .seconds(60), "workers given jobs again \(what)") {
            ledger.deliveryCount(after: instant) >= 10
        }
        try await eventually(within: .seconds(60), "every shard owned again \(what)") {
            try await cluster.database.currentOwners() == ["a": 8, "b": 8]
        }
        #expect(cluster.node("a").isAlive && cluster.node("b").isAlive)
    }
}

/// Something a test runs in the background, such as a worker, stopped when the test ends.
protocol BackgroundActivity: Sendable {
    func stop() async
}

extension TestWorker: BackgroundActivity {}
extension JobSubmitter: BackgroundActivity {}

/// Runs `body`, then stops `activities` however it ends.
func stopping<T>(_ activities: [any BackgroundActivity], after body: () async throws -> T) async throws -> T {
    do {
        let result = try await body()
        for activity in activities {
            await activity.stop()
        }
        return result
    } catch {
        for activity in activities {
            await activity.stop()
        }
        throw error
    }
}
