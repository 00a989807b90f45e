import GnomonProtocol
import Testing

@Suite("Protocol limits")
struct ProtocolLimitsTests {
    @Test("a connection with open calls ticks every 100 ms, whatever its timeouts")
    func busyTick() {
        #expect(ProtocolLimits().tickInterval(openCalls: 1) == .milliseconds(100))
        #expect(ProtocolLimits(firstFrameTimeout: .seconds(60)).tickInterval(openCalls: 50) == .milliseconds(100))
    }

    @Test("an idle connection with the default timeouts ticks once a second")
    func idleTickWithDefaults() {
        #expect(ProtocolLimits().tickInterval(openCalls: 0) == .seconds(1))
    }

    @Test("an idle connection ticks at a tenth of its shortest timeout, never under 100 ms")
    func idleTickFollowsShortestTimeout() {
        let keepalive = ProtocolLimits(keepaliveInterval: .seconds(1), keepaliveTimeout: .seconds(2))
        #expect(keepalive.tickInterval(openCalls: 0) == .milliseconds(100))
        let firstFrame = ProtocolLimits(firstFrameTimeout: .seconds(5), keepaliveInterval: nil)
        #expect(firstFrame.tickInterval(openCalls: 0) == .milliseconds(500))
        let tiny = ProtocolLimits(firstFrameTimeout: .milliseconds(200))
        #expect(tiny.tickInterval(openCalls: 0) == .milliseconds(100))
    }
}
