import GnomonNetwork
import GnomonProtocol
import Synchronization

/// Submits jobs one `SubmitJob` call each, on a fixed timetable, whatever the server's pace.
///
/// Job `i` of a run at `rate` jobs per second is meant to go out `i / rate` seconds after the
/// start. An immediate job's payload carries that intended time; a job due `lead` later carries
/// its due time, rounded up to the whole millisecond its `run_at_unix_ms` names. The producer sleeps until each
/// intended time and starts the call without waiting for the previous ones, so a slow server
/// or a slow client adds to the measured latency instead of thinning the load (no coordinated
/// omission). Calls go round-robin over the channels.
///
/// A server far slower than the timetable would gather calls without end, and go on working
/// through them long after the run. The producer therefore stops early once more calls are
/// unanswered than it would send in ``overloadSeconds``; the jobs it did not send count as lost.
struct OpenLoopProducer: Sendable {
    /// How long one call may take.
    static let callTimeout: Duration = .seconds(30)
    /// Seconds of the timetable's calls that may be unanswered at once before the run stops.
    static let overloadSeconds = 2

    /// What one run submitted.
    struct Outcome: Sendable {
        /// Jobs the timetable held.
        var planned = 0
        /// Jobs sent: all of them, unless the run stopped early.
        var sent = 0
        /// When the run stopped because too many calls were unanswered, on the ``EngineClock``.
        var stoppedAt: Int64?
        /// Jobs the server acknowledged.
        var accepted = 0
        var failed = 0
        var firstFailure: String?
        /// The time of each acknowledged call.
        var calls = LatencySample()
        /// How far behind its timetable the producer started a call, at worst, in microseconds.
        var worstStartDelay: Int64 = 0
        /// The intended time of the last job sent, on the ``EngineClock``.
        var lastIntended: Int64 = 0
    }

    let channels: [RPCChannel]
    /// A token whose role may submit jobs.
    let token: String
    let queue: String
    /// How long after its intended submission each job is due; zero submits immediate jobs.
    let lead: Duration
    let clock: EngineClock

    /// Submits `rate × duration` jobs of `run` on the timetable, then waits for the last answers.
    func run(_ run: Int, rate: Int, duration: Duration) async -> Outcome {
        let planned = Int((Double(rate) * duration.seconds).rounded())
        let metadata = V1.CallMetadata(authorization: "Bearer \(self.token)")
        let outcome = SharedOutcome()
        // A little ahead, so that the first jobs are not late from the start.
        let start = self.clock.now + 20_000
        var worstDelay: Int64 = 0
        var sent = 0
        var stoppedAt: Int64?
        let unansweredLimit = max(1_000, rate * Self.overloadSeconds)
        await withDiscardingTaskGroup { group in
            for index in 0..<planned {
                let intended = start + Int64(index) * 1_000_000 / Int64(rate)
                let instant = self.clock.instant(at: intended)
                if instant > .now {
                    try? await Task.sleep(until: instant, tolerance: .zero, clock: .continuous)
                }
                if index - outcome.answered.load(ordering: .relaxed) >= unansweredLimit {
                    stoppedAt = self.clock.now
                    break
                }
                sent += 1
                worstDelay = max(worstDelay, self.clock.now - intended)
                let channel = self.channels[index % self.channels.count]
                let spec = self.job(of: run, intended: intended)
                group.addTask {
                    await Self.submit(spec, on: channel, metadata: metadata, into: outcome)
                }
            }
        }
        return outcome.value.withLock { outcome in
            outcome.planned = planned
            outcome.sent = sent
            outcome.stoppedAt = stoppedAt
            outcome.worstStartDelay = worstDelay
            outcome.lastIntended = start + Int64(max(sent - 1, 0)) * 1_000_000 / Int64(rate)
            return outcome
        }
    }

    /// The job meant to go out at `intended`: immediate, or due `lead` later.
    private func job(of run: Int, intended: Int64) -> V1.JobSpec {
        guard self.lead > .zero else {
            return V1.JobSpec(queue: self.queue, payloadJSON: BenchJobPayload(run: run, time: intended).json)
        }
        let due = self.clock.unixMilliseconds(atOrAfter: intended + Int64(self.lead.seconds * 1e6))
        let payload = BenchJobPayload(run: run, time: self.clock.microseconds(unixMilliseconds: due))
        return V1.JobSpec(queue: self.queue, payloadJSON: payload.json, start: .runAtUnixMs(due))
    }

    private static func submit(
        _ spec: V1.JobSpec,
        on channel: RPCChannel,
        metadata: V1.CallMetadata,
        into outcome: SharedOutcome
    ) async {
        let start = ContinuousClock.now
        do {
            _ = try await channel.unary(
                .submitJob, payload: try V1.SubmitJobRequest(job: spec).serializedBytes(), metadata: metadata,
                deadline: .now + Self.callTimeout)
            let elapsed = ContinuousClock.now - start
            outcome.value.withLock { outcome in
                outcome.accepted += 1
                outcome.calls.record(elapsed)
            }
        } catch {
            outcome.value.withLock { outcome in
                outcome.failed += 1
                outcome.firstFailure = outcome.firstFailure ?? "\(error)"
            }
        }
        outcome.answered.add(1, ordering: .relaxed)
    }
}

/// The outcome that every call of a run adds to, from whichever task it ends on.
private final class SharedOutcome: Sendable {
    let value = Mutex(OpenLoopProducer.Outcome())
    /// Calls answered so far, successfully or not.
    let answered = Atomic<Int>(0)
}
