import Foundation
import GnomonNetwork
import GnomonProtocol
import Synchronization

/// One attempt handed to a worker, as the worker saw it.
struct Delivery: Sendable {
    var jobID: String
    var attempt: UInt32
    var leaseToken: String
    var worker: String
    var receivedAt: ContinuousClock.Instant
}

/// What a worker does with an attempt it was given.
enum WorkerAction: Sendable {
    /// Answers CompleteAttempt at once.
    case complete
    /// Never answers, as a worker that crashed or hung would; the lease runs out.
    case abandon

    /// Abandons the attempts up to the payload's `abandon_attempts` (0 when missing), and
    /// completes the later ones.
    static func fromPayload(_ job: V1.LeasedJob) -> WorkerAction {
        let payload = job.job?.spec?.payloadJSON ?? []
        let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
        let abandoned = (object?["abandon_attempts"] as? Int) ?? 0
        return job.attempt <= abandoned ? .abandon : .complete
    }
}

/// Every attempt a test's workers were given, and every completion the server acknowledged.
final class DeliveryLedger: Sendable {
    private let recorded = Synchronization.Mutex<[Delivery]>([])
    private let acknowledged = Synchronization.Mutex<[String: Int]>([:])

    /// Every delivery so far, in the order the workers saw them.
    var deliveries: [Delivery] {
        self.recorded.withLock { $0 }
    }

    /// How many CompleteAttempt calls the server answered OK, by job id.
    var acknowledgedCompletions: [String: Int] {
        self.acknowledged.withLock { $0 }
    }

    /// The deliveries of each job, in order.
    var deliveriesByJob: [String: [Delivery]] {
        Dictionary(grouping: self.deliveries, by: \.jobID)
    }

    /// How many deliveries came after `instant`.
    func deliveryCount(after instant: ContinuousClock.Instant) -> Int {
        self.recorded.withLock { $0.count { $0.receivedAt > instant } }
    }

    func record(_ delivery: Delivery) {
        self.recorded.withLock { $0.append(delivery) }
    }

    func completionAcknowledged(_ jobID: String) {
        self.acknowledged.withLock { $0[jobID, default: 0] += 1 }
    }
}

/// A worker in the test process: it keeps a lease stream open to one node, reopening it when
/// it ends, records what it is given and completes or abandons each attempt.
final class TestWorker: Sendable {
    private let task: Task<Void, Never>

    /// Starts leasing at once.
    ///
    /// - Parameters:
    ///   - name: The worker id the server records with each attempt.
    ///   - channel: The node to lease from.
    ///   - token: A worker token of the jobs' tenant.
    ///   - queues: The queues served.
    ///   - capacity: The most attempts running at once, abandoned ones included until they expire.
    ///   - ledger: Where deliveries and completions are recorded.
    ///   - action: What to do with each attempt.
    init(
        name: String,
        channel: RPCChannel,
        token: String,
        queues: [String],
        capacity: UInt32 = 500,
        ledger: DeliveryLedger,
        action: @escaping @Sendable (V1.LeasedJob) -> WorkerAction = WorkerAction.fromPayload
    ) {
        self.task = Task {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled {
                    do {
                        let messages = try channel.leaseMessages(
                            token: token, queues: queues, capacity: capacity, worker: name)
                        for try await bytes in messages {
                            guard case .leased(let job) = try V1.LeaseStreamMessage(serializedBytes: bytes).event else {
                                continue
                            }
                            ledger.record(
                                Delivery(
                                    jobID: job.job?.id ?? "", attempt: job.attempt, leaseToken: job.leaseToken,
                                    worker: name, receivedAt: .now))
                            if action(job) == .complete {
                                group.addTask {
                                    await Self.complete(job, channel: channel, token: token, ledger: ledger)
                                }
                            }
                        }
                    } catch {
                        // The stream ended: the node went away or refused; lease again shortly.
                    }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
        }
    }

    /// Stops leasing and abandons the completions still being tried.
    func stop() async {
        self.task.cancel()
        await self.task.value
    }

    /// Completes an attempt, trying again after failures other than a refusal of the token
    /// until its lease runs out, as a worker does when the server or its database hiccups.
    private static func complete(
        _ job: V1.LeasedJob,
        channel: RPCChannel,
        token: String,
        ledger: DeliveryLedger
    ) async {
        let jobID = job.job?.id ?? ""
        let request = V1.CompleteAttemptRequest(jobID: jobID, leaseToken: job.leaseToken)
        let expiry = Date(timeIntervalSince1970: Double(job.leaseExpiresAtUnixMs) / 1_000)
        while !Task.isCancelled {
            let status = await channel.status(.completeAttempt, request, token: token, timeout: .seconds(10))
            switch status.code {
            case .ok:
                ledger.completionAcknowledged(jobID)
                return

            case .failedPrecondition:
                // The lease ran out before the answer got through; the job comes back.
                return

            default:
                guard Date() < expiry else {
                    return
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}
