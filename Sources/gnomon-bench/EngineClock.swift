import Foundation

/// The one time line that producers, workers and the server's due times are measured on.
///
/// Times are microseconds since the clock was made, read from the monotonic clock, so that a
/// wall-clock step during the run cannot bend a latency. The anchor's wall-clock time turns
/// them into the Unix milliseconds a job's `run_at_unix_ms` needs: the server compares those
/// with PostgreSQL's `now()`, which reads the same machine's wall clock.
struct EngineClock: Sendable {
    private let anchor: ContinuousClock.Instant
    private let anchorUnixMicroseconds: Int64

    /// Starts the time line now.
    init() {
        self.anchor = .now
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        self.anchorUnixMicroseconds = Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1_000
    }

    /// Microseconds from the anchor to now.
    var now: Int64 {
        self.microseconds(at: .now)
    }

    /// Microseconds from the anchor to `instant`.
    func microseconds(at instant: ContinuousClock.Instant) -> Int64 {
        let elapsed = (instant - self.anchor).components
        return elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000
    }

    /// The instant `microseconds` after the anchor.
    func instant(at microseconds: Int64) -> ContinuousClock.Instant {
        self.anchor + .microseconds(microseconds)
    }

    /// The time line's microseconds at a Unix time in milliseconds.
    func microseconds(unixMilliseconds: Int64) -> Int64 {
        unixMilliseconds * 1_000 - self.anchorUnixMicroseconds
    }

    /// The first whole Unix millisecond at or after `microseconds` on the time line.
    func unixMilliseconds(atOrAfter microseconds: Int64) -> Int64 {
        let unix = microseconds + self.anchorUnixMicroseconds
        return (unix + 999) / 1_000
    }
}
