import Synchronization

/// Lets one task sleep until a deadline or until another task wakes it, whichever is first.
///
/// A wake while nobody waits is kept, so the next wait returns at once: a nudge sent while
/// the sleeper was busy is never lost, at the cost of an occasional spare round.
final class Wakeup: Sendable {
    private struct State {
        var sleeper: CheckedContinuation<Void, Never>?
        /// When the current sleep ends on its own.
        var deadline: ContinuousClock.Instant?
        var pending = false
    }

    private let state = Synchronization.Mutex(State())

    /// Whether a task sleeps in ``wait(until:)`` now.
    var hasSleeper: Bool {
        self.state.withLock { $0.sleeper != nil }
    }

    /// Wakes the sleeper now, or makes its next wait return at once.
    func wake() {
        self.wake(ifSleepingPast: nil)
    }

    /// Wakes the sleeper if it would sleep past `instant` (always when `instant` is `nil`); when
    /// nobody sleeps, makes the next wait return at once.
    func wake(ifSleepingPast instant: ContinuousClock.Instant?) {
        let sleeper = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let sleeper = state.sleeper else {
                state.pending = true
                return nil
            }
            if let instant, let deadline = state.deadline, deadline <= instant {
                return nil
            }
            state.sleeper = nil
            state.deadline = nil
            return sleeper
        }
        sleeper?.resume()
    }

    /// Sleeps until `deadline`, a ``wake()`` or the task's cancellation. One sleeper at a time.
    func wait(until deadline: ContinuousClock.Instant) async {
        let timer = Task { [self] in
            guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else {
                return
            }
            self.wake()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = self.state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.sleeper = continuation
                    state.deadline = deadline
                    return false
                }
                if now {
                    continuation.resume()
                }
            }
        } onCancel: {
            self.wake()
        }
        timer.cancel()
    }
}
