import Testing

@testable import GnomonProtocol

private let start = ContinuousClock.now

private func at(_ seconds: Int64) -> ContinuousClock.Instant {
    start + .seconds(seconds)
}

@Suite("Keepalive state machine")
struct KeepaliveStateMachineTests {
    private let limits = ProtocolLimits(keepaliveInterval: .seconds(30), keepaliveTimeout: .seconds(10))

    @Test("nothing happens while frames keep arriving")
    func busy() {
        var keepalive = KeepaliveStateMachine(limits: self.limits, now: start)
        for second in stride(from: Int64(20), to: 300, by: 20) {
            keepalive.frameReceived(now: at(second))
            #expect(keepalive.tick(now: at(second + 10)) == .none)
        }
    }

    @Test("a quiet peer is pinged once, with a new datum each time")
    func pings() {
        var keepalive = KeepaliveStateMachine(limits: self.limits, now: start)
        #expect(keepalive.tick(now: at(29)) == .none)
        #expect(keepalive.tick(now: at(30)) == .sendPing(.makePing(data: 1)))
        #expect(keepalive.isAwaitingAnswer)
        #expect(keepalive.tick(now: at(31)) == .none)
        keepalive.frameReceived(now: at(32))
        #expect(!keepalive.isAwaitingAnswer)
        #expect(keepalive.tick(now: at(62)) == .sendPing(.makePing(data: 2)))
    }

    @Test("a peer silent for the timeout after a ping is unresponsive")
    func unresponsive() {
        var keepalive = KeepaliveStateMachine(limits: self.limits, now: start)
        _ = keepalive.tick(now: at(30))
        #expect(keepalive.tick(now: at(39)) == .none)
        #expect(keepalive.tick(now: at(40)) == .peerUnresponsive)
    }

    @Test("without an interval no ping is ever sent")
    func disabled() {
        var keepalive = KeepaliveStateMachine(limits: ProtocolLimits(keepaliveInterval: nil), now: start)
        #expect(keepalive.tick(now: at(100_000)) == .none)
    }
}
