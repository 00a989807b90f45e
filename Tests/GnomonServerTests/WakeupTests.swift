import Synchronization
import Testing

@testable import GnomonServer

/// The sleep-or-wake primitive the shard loops wait on.
@Suite("Wakeup")
struct WakeupTests {
    @Test("a wake sent while nobody sleeps makes the next wait return at once")
    func pendingWake() async {
        let wakeup = Wakeup()
        wakeup.wake()
        let started = ContinuousClock.now
        await wakeup.wait(until: .now + .seconds(30))
        #expect(ContinuousClock.now - started < .seconds(10))
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
        let deadline = ContinuousClock.now + .seconds(30)
        let awake = Atomic<Bool>(false)
        let sleeper = Task {
            await wakeup.wait(until: deadline)
            awake.store(true, ordering: .releasing)
            return ContinuousClock.now
        }
        // Let the sleeper register, then nudge it with an instant past its deadline.
        try await Task.sleep(for: .milliseconds(500))
        wakeup.wake(ifSleepingPast: deadline + .seconds(1))
        try await Task.sleep(for: .milliseconds(200))
        let wokenEarly = awake.load(ordering: .acquiring)
        #expect(!wokenEarly, "woken for an instant after its own deadline")
        wakeup.wake(ifSleepingPast: .now + .milliseconds(1))
        let woke = await sleeper.value
        #expect(woke < deadline - .seconds(20))
    }

    @Test("cancelling the sleeping task ends its wait")
    func cancellation() async {
        let wakeup = Wakeup()
        let sleeper = Task { await wakeup.wait(until: .now + .seconds(30)) }
        sleeper.cancel()
        let started = ContinuousClock.now
        await sleeper.value
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
