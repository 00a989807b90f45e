import GnomonNetwork
import GnomonProtocol
import Synchronization

/// Submits one job at a time in a loop, to each node in turn, keeping every id the server
/// acknowledged; failed calls are counted and tried again after a pause.
final class JobSubmitter: Sendable {
    private struct Acknowledgement {
        var jobID: String
        var at: ContinuousClock.Instant
    }

    private final class Log: Sendable {
        let acknowledgements = Synchronization.Mutex<[Acknowledgement]>([])
        let failures = Synchronization.Mutex(0)
    }

    private let log: Log
    private let task: Task<Void, Never>

    /// Starts submitting `spec` through `channels` in turn.
    init(channels: [RPCChannel], token: String, spec: V1.JobSpec) {
        let log = Log()
        self.log = log
        self.task = Task {
            var turn = 0
            while !Task.isCancelled {
                let channel = channels[turn % channels.count]
                turn += 1
                do {
                    let response: V1.SubmitJobResponse = try await channel.call(
                        .submitJob, V1.SubmitJobRequest(job: spec), token: token, timeout: .seconds(5))
                    if let id = response.job?.id {
                        log.acknowledgements.withLock { $0.append(Acknowledgement(jobID: id, at: .now)) }
                    }
                    try? await Task.sleep(for: .milliseconds(20))
                } catch {
                    log.failures.withLock { $0 += 1 }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// Every job id acknowledged so far, in order.
    var acknowledged: [String] {
        self.log.acknowledgements.withLock { $0.map(\.jobID) }
    }

    /// How many calls failed so far.
    var failureCount: Int {
        self.log.failures.withLock { $0 }
    }

    /// How many submissions were acknowledged after `instant`.
    func acknowledgedCount(after instant: ContinuousClock.Instant) -> Int {
        self.log.acknowledgements.withLock { $0.count { $0.at > instant } }
    }

    /// Stops submitting, once the call in flight ends.
    func stop() async {
        self.task.cancel()
        await self.task.value
    }
}
