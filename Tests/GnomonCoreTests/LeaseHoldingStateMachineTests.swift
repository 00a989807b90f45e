import GnomonCore
import Testing

@Suite("Lease holding state machine")
struct LeaseHoldingStateMachineTests {
    private let start = ContinuousClock.now

    /// A machine with a 5 s lifetime, given up 1 s early.
    private func machine() -> LeaseHoldingStateMachine<Int> {
        LeaseHoldingStateMachine(ttl: .seconds(5), safetyMargin: .seconds(1))
    }

    private func at(_ milliseconds: Int) -> ContinuousClock.Instant {
        self.start + .milliseconds(milliseconds)
    }

    @Test("a lease counts until its request's send time plus the lifetime less the margin")
    func deadline() {
        var holdings = self.machine()
        let held = holdings.leaseAcquired(3, epoch: 7, sentAt: self.at(0), now: self.at(40))
        #expect(held)
        #expect(holdings.epoch(of: 3, at: self.at(3_999)) == 7)
        #expect(holdings.epoch(of: 3, at: self.at(4_000)) == nil)
        #expect(holdings.earliestDeadline == self.at(4_000))
        let early = holdings.clockAdvanced(to: self.at(3_999))
        #expect(early.isEmpty)
        let due = holdings.clockAdvanced(to: self.at(4_000))
        #expect(due == [3])
        #expect(holdings.held.isEmpty)
    }

    @Test("a renewal moves the deadline to its own send time, never back")
    func renewal() {
        var holdings = self.machine()
        _ = holdings.leaseAcquired(1, epoch: 2, sentAt: self.at(0), now: self.at(10))
        let action = holdings.renewalSucceeded(
            sent: [1: 2], renewed: [1: 2], sentAt: self.at(1_500), now: self.at(1_520))
        #expect(action.lost.isEmpty && action.release.isEmpty)
        #expect(holdings.epoch(of: 1, at: self.at(5_499)) == 2)
        #expect(holdings.epoch(of: 1, at: self.at(5_500)) == nil)

        // An answer to an older request, arriving late, does not shorten the deadline.
        _ = holdings.renewalSucceeded(sent: [1: 2], renewed: [1: 2], sentAt: self.at(1_000), now: self.at(1_600))
        #expect(holdings.earliestDeadline == self.at(5_500))
    }

    @Test("a lease the database did not renew is lost at once")
    func refused() {
        var holdings = self.machine()
        _ = holdings.leaseAcquired(1, epoch: 2, sentAt: self.at(0), now: self.at(10))
        _ = holdings.leaseAcquired(4, epoch: 9, sentAt: self.at(0), now: self.at(10))
        let action = holdings.renewalSucceeded(
            sent: [1: 2, 4: 9], renewed: [4: 9], sentAt: self.at(1_000), now: self.at(1_010))
        #expect(action.lost == [1])
        #expect(holdings.held == [4: 9])
    }

    @Test("a failed renewal keeps leases until their deadline, then loses them")
    func failedRenewal() {
        var holdings = self.machine()
        _ = holdings.leaseAcquired(1, epoch: 2, sentAt: self.at(0), now: self.at(10))
        let keptLost = holdings.renewalFailed(now: self.at(2_000))
        #expect(keptLost.isEmpty)
        #expect(holdings.epoch(of: 1, at: self.at(2_000)) == 2)
        let lostLater = holdings.renewalFailed(now: self.at(4_100))
        #expect(lostLater == [1])
    }

    @Test("after a long pause, a renewal sent before it neither revives nor keeps a lease")
    func pausedRenewal() {
        var holdings = self.machine()
        _ = holdings.leaseAcquired(1, epoch: 2, sentAt: self.at(0), now: self.at(10))
        // Sent at 1 s, then the process is stopped for 10 s; the answer says renewed.
        let action = holdings.renewalSucceeded(
            sent: [1: 2], renewed: [1: 2], sentAt: self.at(1_000), now: self.at(11_000))
        #expect(action.lost == [1])
        #expect(holdings.epoch(of: 1, at: self.at(11_000)) == nil)
    }

    @Test("a lease given up while its renewal was on the way is released, not held again")
    func renewedAfterGivingUp() {
        var holdings = self.machine()
        _ = holdings.leaseAcquired(1, epoch: 2, sentAt: self.at(0), now: self.at(10))
        let overdue = holdings.clockAdvanced(to: self.at(4_000))
        #expect(overdue == [1])
        let action = holdings.renewalSucceeded(
            sent: [1: 2], renewed: [1: 2], sentAt: self.at(3_900), now: self.at(4_100))
        #expect(action.lost.isEmpty)
        #expect(action.release == [1: 2])
        #expect(holdings.held.isEmpty)
    }

    @Test("a lease taken by a request answered after its deadline is not held")
    func lateAcquisition() {
        var holdings = self.machine()
        let held = holdings.leaseAcquired(1, epoch: 2, sentAt: self.at(0), now: self.at(4_000))
        #expect(!held)
        #expect(holdings.held.isEmpty)
    }

    @Test("a released lease stops counting at once")
    func released() {
        var holdings = self.machine()
        _ = holdings.leaseAcquired(1, epoch: 2, sentAt: self.at(0), now: self.at(10))
        let epoch = holdings.leaseReleased(1)
        #expect(epoch == 2)
        let again = holdings.leaseReleased(1)
        #expect(again == nil)
        #expect(holdings.epoch(of: 1, at: self.at(20)) == nil)
    }

    @Test("the margin is kept within the lifetime")
    func marginBounds() {
        let holdings = LeaseHoldingStateMachine<Int>(ttl: .seconds(1), safetyMargin: .seconds(3))
        #expect(holdings.safetyMargin == .seconds(1))
        #expect(holdings.deadline(sentAt: self.at(0)) == self.at(0))
    }
}
