import Synchronization

/// Lets one task sleep until a deadline or until another task wakes it, whichever is first.
///
/// A wake while nobody waits is kept: the next wait ends no later than the instant the wake
/// named (at once for ``wake()``), so a nudge sent while the sleeper was busy is never lost,
/// and a busy sleeper that many nudge for instants ahead does not run a spare round for each.
final class Wakeup: Sendable {
    private struct State {
        var sleeper: CheckedContinuation<Void, Never>?
        /// When the current sleep ends on its own.
        var deadline: ContinuousClock.Instant?
        /// The latest the next wait may end, set by wakes while nobody slept.
        var pendingBy: ContinuousClock.Instant?
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
    /// nobody sleeps, makes the next wait end by `instant` (at once when `nil`).
    func wake(ifSleepingPast instant: ContinuousClock.Instant?) {
        let sleeper = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let sleeper = state.sleeper else {
                let by = instant ?? .now
                state.pendingBy = min(state.pendingBy ?? by, by)
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
        let end = self.state.withLock { state in
            defer { state.pendingBy = nil }
            return min(deadline, state.pendingBy ?? deadline)
        }
        guard end > .now, !Task.isCancelled else {
            return
        }
        let timer = Task { [self] in
            guard (try? await Task.sleep(until: end, clock: .continuous)) != nil else {
                return
            }
            self.wake()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = self.state.withLock { state -> Bool in
                    // A wake came between reading the pending instant and now: look again at once.
                    if state.pendingBy != nil {
                        state.pendingBy = nil
                        return true
                    }
                    state.sleeper = continuation
                    state.deadline = end
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
