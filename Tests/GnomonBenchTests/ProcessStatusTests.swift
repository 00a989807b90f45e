import Testing

@testable import gnomon_bench

@Suite("Process status from /proc")
struct ProcessStatusTests {
    @Test("the resident size is read from the VmRSS line in KiB")
    func residentSize() {
        let status = "Name:\tgnomon-bench\nVmPeak:\t  900000 kB\nVmRSS:\t   51712 kB\nRssAnon:\t   40000 kB\n"
        #expect(ProcessStatus.residentKiB(status: status) == 51_712)
        #expect(ProcessStatus.residentKiB(status: "Name:\tkthreadd\n") == nil)
    }

    @Test("CPU ticks are user plus system time, counted after a name holding spaces and parentheses")
    func cpuTicks() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 700 0 0 0 125 37 0 0 20 0 5 0 100 0 0"
        #expect(ProcessStatus.cpuTicks(stat: stat) == 162)
        #expect(ProcessStatus.cpuTicks(stat: "4242 (short) S 1") == nil)
    }

    @Test("this process's own status reads")
    func ownStatus() throws {
        let status = try ProcessStatus.read()
        #expect(status.residentKiB > 0)
        #expect(status.openDescriptors >= 3)
    }
}
