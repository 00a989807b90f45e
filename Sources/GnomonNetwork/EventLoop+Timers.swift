/// A timer scheduled on an event loop, for cancelling it.
public struct TimerID: Hashable, Sendable {
    let raw: UInt64
}

extension EventLoop {
    /// Runs `task` on the loop once `delay` has passed on the monotonic clock; loop thread only.
    ///
    /// Timers due at the same moment run in the order they were scheduled. A timer is never
    /// early; it is late by as long as the work ahead of it on the loop takes.
    ///
    /// - Parameters:
    ///   - delay: How long to wait; zero or negative runs the task on the loop's next pass.
    ///   - task: The work; it must not block.
    /// - Returns: The timer's identifier, for ``cancelTimer(_:)``.
    @discardableResult
    public func scheduleTimer(after delay: Duration, _ task: @escaping () -> Void) -> TimerID {
        self.preconditionInEventLoop()
        let deadline = EventLoopTimers.now() &+ Self.nanoseconds(delay)
        return TimerID(raw: self.timers.schedule(deadline: deadline, task))
    }

    /// Cancels a timer that has not run yet; loop thread only.
    ///
    /// - Returns: `false` when the timer already ran or was cancelled.
    @discardableResult
    public func cancelTimer(_ id: TimerID) -> Bool {
        self.preconditionInEventLoop()
        return self.timers.cancel(id.raw)
    }

    /// A duration in whole nanoseconds, 0 for negative ones and clamped at about 292 years.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else {
            return 0
        }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else {
            return UInt64.max / 2
        }
        return min(whole &+ UInt64(attoseconds / 1_000_000_000), UInt64.max / 2)
    }
}
