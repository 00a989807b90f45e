import Synchronization
import Testing

@testable import GnomonServer

/// The sleep-or-wake primitive the shard loops wait on.
///
/// The deadlines are long and the bounds loose: other suites in this process may keep the
/// cooperative pool busy for seconds, and what is tested is whether a wake ends the sleep at
/// all, long before its deadline.
@Suite("Wakeup")
struct WakeupTests {
    private static let longSleep = Duration.seconds(600)
    private static let bound = Duration.seconds(300)

    /// Waits until `wakeup` has a sleeper.
    private static func untilAsleep(_ wakeup: Wakeup) async throws {
        while !wakeup.hasSleeper {
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test("a wake sent while nobody sleeps makes the next wait return at once")
    func pendingWake() async {
        let wakeup = Wakeup()
        wakeup.wake()
        let started = ContinuousClock.now
        await wakeup.wait(until: .now + Self.longSleep)
        #expect(ContinuousClock.now - started < Self.bound)
    }

    @Test("a wake for an instant ahead, sent while nobody sleeps, ends the next wait then, not at once")
    func pendingWakeForLater() async {
        let wakeup = Wakeup()
        let started = ContinuousClock.now
        wakeup.wake(ifSleepingPast: started + .milliseconds(200))
        wakeup.wake(ifSleepingPast: started + .seconds(900))
        await wakeup.wait(until: .now + Self.longSleep)
        let slept = ContinuousClock.now - started
        #expect(slept >= .milliseconds(200), "the wait ended \(slept) in, before the instant the wake named")
        #expect(slept < Self.bound)
    }

    @Test("a sleeper wakes at its deadline when nothing wakes it")
    func deadline() async {
        let wakeup = Wakeup()
        let started = ContinuousClock.now
        await wakeup.wait(until: .now + .milliseconds(50))
        #expect(ContinuousClock.now - started >= .milliseconds(50))
    }

    @Test("a wake for an instant after the sleeper's deadline leaves it asleep; an earlier one wakes it")
    func conditionalWake() async throws {
        let wakeup = Wakeup()
        let deadline = ContinuousClock.now + Self.longSleep
        let awake = Atomic<Bool>(false)
        let sleeper = Task {
            await wakeup.wait(until: deadline)
            awake.store(true, ordering: .releasing)
            return ContinuousClock.now
        }
        // Once the sleeper sleeps, nudge it with an instant past its deadline.
        try await Self.untilAsleep(wakeup)
        wakeup.wake(ifSleepingPast: deadline + .seconds(1))
        try await Task.sleep(for: .milliseconds(200))
        let wokenEarly = awake.load(ordering: .acquiring)
        #expect(!wokenEarly, "woken for an instant after its own deadline")
        #expect(wakeup.hasSleeper)
        wakeup.wake(ifSleepingPast: .now + .milliseconds(1))
        let woke = await sleeper.value
        #expect(woke < deadline - Self.bound)
    }

    @Test("cancelling the sleeping task ends its wait")
    func cancellation() async throws {
        let wakeup = Wakeup()
        let sleeper = Task { await wakeup.wait(until: .now + Self.longSleep) }
        try await Self.untilAsleep(wakeup)
        sleeper.cancel()
        let started = ContinuousClock.now
        await sleeper.value
        #expect(ContinuousClock.now - started < Self.bound)
    }
}
