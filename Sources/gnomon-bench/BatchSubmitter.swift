import GnomonNetwork
import GnomonProtocol
import Synchronization

/// Submits jobs through `SubmitJobs`, 1,000 a call, with several calls in flight on each channel.
///
/// Each caller takes the next batch as soon as its call returns, so the server is never idle
/// waiting for the client; the rate is the jobs accepted over the time from the first call to
/// the last answer.
struct BatchSubmitter: Sendable {
    /// Jobs per `SubmitJobs` call: the most the server takes.
    static let batchSize = 1_000
    /// How long one call may take.
    static let callTimeout: Duration = .seconds(120)

    /// What a submission accomplished.
    struct Outcome: Sendable {
        var elapsed: Duration = .zero
        /// Jobs the server took.
        var accepted = 0
        /// Jobs the server refused one by one, within calls that succeeded.
        var refused = 0
        var failedCalls = 0
        var firstFailure: String?
        /// The time of each successful call.
        var calls = LatencySample()

        /// The failures as a note for the report, empty when there were none.
        var failureNote: String {
            guard self.refused > 0 || self.failedCalls > 0 else {
                return ""
            }
            return "; \(formatCount(self.refused)) jobs refused and \(formatCount(self.failedCalls)) calls failed, "
                + "the first with: \(self.firstFailure ?? "?")"
        }

        mutating func merge(_ other: Outcome) {
            self.accepted += other.accepted
            self.refused += other.refused
            self.failedCalls += other.failedCalls
            self.firstFailure = self.firstFailure ?? other.firstFailure
            self.calls.merge(other.calls)
        }
    }

    let channels: [RPCChannel]
    let callsPerChannel: Int
    /// A token whose role may submit jobs.
    let token: String

    /// Submits `count` jobs; job `index` is `makeJob(index)`.
    ///
    /// - Parameters:
    ///   - count: How many jobs.
    ///   - label: Names the submission in progress lines every 100,000 jobs; none when `nil`.
    ///   - makeJob: Makes one job's spec.
    func submit(count: Int, label: String? = nil, makeJob: @escaping @Sendable (Int) -> V1.JobSpec) async -> Outcome {
        let batches = (count + Self.batchSize - 1) / Self.batchSize
        return await self.submit(batches: batches, label: label) { batch in
            let first = batch * Self.batchSize
            let jobs = (first..<min(first + Self.batchSize, count)).map(makeJob)
            return try V1.SubmitJobsRequest(jobs: jobs).serializedBytes()
        }
    }

    /// Submits encoded `SubmitJobsRequest`s made before the clock starts.
    func submit(encoded requests: [[UInt8]]) async -> Outcome {
        await self.submit(batches: requests.count, label: nil) { requests[$0] }
    }

    private func submit(
        batches: Int,
        label: String?,
        encode: @escaping @Sendable (Int) throws -> [UInt8]
    ) async -> Outcome {
        let counter = BatchCounter()
        let metadata = V1.CallMetadata(authorization: "Bearer \(self.token)")
        let start = ContinuousClock.now
        var total = await withTaskGroup(of: Outcome.self) { group in
            for channel in self.channels {
                for _ in 0..<self.callsPerChannel {
                    group.addTask {
                        var outcome = Outcome()
                        while true {
                            let batch = counter.next.add(1, ordering: .relaxed).oldValue
                            guard batch < batches else {
                                return outcome
                            }
                            await Self.call(batch, encode: encode, on: channel, metadata: metadata, into: &outcome)
                            if let label, (batch + 1) % 100 == 0 {
                                printProgress("  \(label): \(formatCount((batch + 1) * Self.batchSize)) jobs sent")
                            }
                        }
                    }
                }
            }
            var total = Outcome()
            for await outcome in group {
                total.merge(outcome)
            }
            return total
        }
        total.elapsed = ContinuousClock.now - start
        return total
    }

    private static func call(
        _ batch: Int,
        encode: @Sendable (Int) throws -> [UInt8],
        on channel: RPCChannel,
        metadata: V1.CallMetadata,
        into outcome: inout Outcome
    ) async {
        let start = ContinuousClock.now
        do {
            let response = try V1.SubmitJobsResponse(
                serializedBytes: try await channel.unary(
                    .submitJobs, payload: try encode(batch), metadata: metadata, deadline: .now + Self.callTimeout))
            outcome.calls.record(ContinuousClock.now - start)
            for result in response.results {
                if case .error(let status) = result.outcome {
                    outcome.refused += 1
                    outcome.firstFailure = outcome.firstFailure ?? "\(status.code): \(status.message)"
                } else {
                    outcome.accepted += 1
                }
            }
        } catch {
            outcome.failedCalls += 1
            outcome.firstFailure = outcome.firstFailure ?? "\(error)"
        }
    }
}

/// The next batch to send, shared by every caller of one submission.
private final class BatchCounter: Sendable {
    let next = Atomic<Int>(0)
}
