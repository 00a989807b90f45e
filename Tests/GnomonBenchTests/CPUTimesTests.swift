import Foundation
import Testing

@testable import gnomon_bench

@Suite("CPU time per party")
struct CPUTimesTests {
    private func times(postmaster: Int, backends: [Int32: Int]) -> CPUTimes {
        CPUTimes(serverTicks: 0, clientTicks: 0, postmasterTicks: postmaster, backendTicks: backends)
    }

    @Test("a backend that exits counts only what it used after the earlier reading")
    func exitedBackend() {
        // Backend 10 had used 500 ticks before the phase and 20 more within it, then exited:
        // the postmaster's reaped total grew by its whole 520.
        let earlier = self.times(postmaster: 100, backends: [10: 500, 11: 30])
        let later = self.times(postmaster: 620, backends: [11: 80, 12: 5])
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let cores = later.cores(since: earlier, over: .seconds(1))
        #expect(abs(cores.postgres - Double(20 + 50 + 5) / ticksPerSecond) < 1e-9)
    }

    @Test("live backends count their growth, new ones all their time")
    func liveBackends() {
        let earlier = self.times(postmaster: 0, backends: [10: 100])
        let later = self.times(postmaster: 0, backends: [10: 150, 11: 50])
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        #expect(abs(later.cores(since: earlier, over: .seconds(2)).postgres - 50 / ticksPerSecond) < 1e-9)
    }
}
