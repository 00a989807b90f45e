import Synchronization

/// What the no-op workers received and completed, tallied by the run each job belongs to.
///
/// Workers on many tasks record into it at once; the benchmark reads tallies between runs and
/// waits on them while a run drains.
final class ReceiptLog: Sendable {
    /// One run's jobs as the workers saw them.
    struct Tally: Sendable {
        /// Jobs a lease stream delivered.
        var received = 0
        /// Jobs whose `CompleteAttempt` call succeeded.
        var completed = 0
        /// Receipt time minus the payload's time, in microseconds, one per received job.
        var latencies: [Int64] = []
        /// When the first and the last job arrived, on the ``EngineClock``.
        var firstReceipt: Int64?
        var lastReceipt: Int64?
        /// When the last completion was acknowledged, on the ``EngineClock``.
        var lastCompletion: Int64?
    }

    /// Failures of the workers' own calls, which no run's tally shows.
    struct Problems: Sendable {
        var failedCompletions = 0
        var firstFailedCompletion: String?
        var streamFailures = 0
        var firstStreamFailure: String?
        /// Jobs whose payload this benchmark did not write.
        var strays = 0
    }

    private struct State {
        var tallies: [Int: Tally] = [:]
        var problems = Problems()
    }

    private let state = Mutex(State())

    /// Records a job a lease stream delivered at `time`.
    func received(_ payload: BenchJobPayload?, at time: Int64) {
        self.state.withLock { state in
            guard let payload else {
                state.problems.strays += 1
                return
            }
            var tally = state.tallies[payload.run, default: Tally()]
            tally.received += 1
            tally.latencies.append(time - payload.time)
            tally.firstReceipt = tally.firstReceipt ?? time
            tally.lastReceipt = time
            state.tallies[payload.run] = tally
        }
    }

    /// Records a completion acknowledged at `time` for a job of `run`.
    func completed(run: Int, at time: Int64) {
        self.state.withLock { state in
            state.tallies[run, default: Tally()].completed += 1
            state.tallies[run, default: Tally()].lastCompletion = time
        }
    }

    /// Records a `CompleteAttempt` call that failed.
    func completionFailed(_ error: String) {
        self.state.withLock { state in
            state.problems.failedCompletions += 1
            state.problems.firstFailedCompletion = state.problems.firstFailedCompletion ?? error
        }
    }

    /// Records a lease stream that ended or failed while the run went on.
    func streamFailed(_ error: String) {
        self.state.withLock { state in
            state.problems.streamFailures += 1
            state.problems.firstStreamFailure = state.problems.firstStreamFailure ?? error
        }
    }

    /// The tally of `run` so far.
    func tally(_ run: Int) -> Tally {
        self.state.withLock { $0.tallies[run] ?? Tally() }
    }

    /// The workers' failures so far.
    var problems: Problems {
        self.state.withLock { $0.problems }
    }

    /// Waits until `run` has `count` jobs received, or completed when `completions` is set.
    ///
    /// - Parameters:
    ///   - stall: Give up when the count has not grown for this long.
    ///   - deadline: Give up at this instant in any case.
    /// - Returns: Whether the count was reached.
    func wait(
        run: Int,
        for count: Int,
        completions: Bool = false,
        stall: Duration,
        deadline: ContinuousClock.Instant? = nil
    ) async -> Bool {
        var seen = -1
        var lastProgress = ContinuousClock.now
        while true {
            let tally = self.tally(run)
            let current = completions ? tally.completed : tally.received
            if current >= count {
                return true
            }
            let now = ContinuousClock.now
            if current > seen {
                seen = current
                lastProgress = now
            }
            if now - lastProgress > stall || deadline.map({ now > $0 }) == true {
                return false
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
