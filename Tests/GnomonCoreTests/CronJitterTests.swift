import Foundation
import GnomonCore
import Testing

@Suite("Cron fire jitter")
struct CronJitterTests {
    static let newYear = Date(timeIntervalSince1970: 1_767_225_600)

    @Test("the delay is fixed by id and fire time, pinned against an independent FNV-1a")
    func pinned() {
        // Computed in Python: FNV-1a 64 over the id, a zero byte and the little-endian second,
        // SplitMix64's finaliser, then the remainder by the maximum in milliseconds plus one.
        #expect(
            CronJitter.jitter(scheduleID: "nightly-report", fireTime: Self.newYear, maximum: .seconds(60))
                == .milliseconds(56_374))
        #expect(
            CronJitter.jitter(scheduleID: "tenant-7/sync", fireTime: Self.newYear, maximum: .seconds(3_600))
                == .milliseconds(2_502_076))
        #expect(
            CronJitter.jitter(
                scheduleID: "nightly-report", fireTime: Self.newYear.addingTimeInterval(1), maximum: .seconds(60))
                == .milliseconds(36_135))
    }

    @Test("sub-second parts of the fire time do not change the delay")
    func wholeSeconds() {
        let plain = CronJitter.jitter(scheduleID: "a", fireTime: Self.newYear, maximum: .seconds(10))
        let fraction = CronJitter.jitter(
            scheduleID: "a", fireTime: Self.newYear.addingTimeInterval(0.75), maximum: .seconds(10))
        #expect(plain == fraction)
    }

    @Test("a zero or negative maximum gives no delay", arguments: [Duration.zero, .milliseconds(-5), .nanoseconds(1)])
    func noWindow(maximum: Duration) {
        #expect(CronJitter.jitter(scheduleID: "a", fireTime: Self.newYear, maximum: maximum) == .zero)
    }

    @Test("delays stay within the maximum and spread evenly over it")
    func bounded() {
        let maximum = Duration.seconds(10)
        var buckets = [Int](repeating: 0, count: 10)
        for index in 0..<20_000 {
            let fire = Self.newYear.addingTimeInterval(Double(index * 60))
            let delay = CronJitter.jitter(scheduleID: "schedule-\(index % 7)", fireTime: fire, maximum: maximum)
            #expect(delay >= .zero && delay <= maximum)
            buckets[Int(delay.components.seconds).clamped(to: 0...9)] += 1
        }
        // Each tenth of the window expects 2,000; a fair hash stays well within 10% of that.
        for count in buckets {
            #expect(count > 1_800 && count < 2_200, "\(buckets)")
        }
    }

    @Test("ids that are prefixes of each other get different delays")
    func separator() {
        let first = CronJitter.jitter(scheduleID: "ab", fireTime: Self.newYear, maximum: .seconds(3_600))
        let second = CronJitter.jitter(scheduleID: "a", fireTime: Self.newYear, maximum: .seconds(3_600))
        #expect(first != second)
    }
}

extension Comparable {
    fileprivate func clamped(to range: ClosedRange<Self>) -> Self {
        min(max(self, range.lowerBound), range.upperBound)
    }
}
