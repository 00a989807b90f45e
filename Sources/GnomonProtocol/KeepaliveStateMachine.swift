/// Decides when one side of a connection pings its peer and when it gives up on it.
///
/// A ping is sent once nothing has been received for the keepalive interval. Any frame
/// received afterwards, not only the ping's answer, shows the peer is alive; if nothing
/// arrives within the keepalive timeout the peer is unresponsive.
struct KeepaliveStateMachine: Sendable {
    /// What the connection should do after a tick.
    enum Action: Sendable, Hashable {
        /// Nothing.
        case none
        /// Send this PING frame.
        case sendPing(V1.Frame)
        /// The peer stopped answering: the connection is dead.
        case peerUnresponsive
    }

    private let interval: Duration?
    private let timeout: Duration
    private var lastReceived: ContinuousClock.Instant
    private var pingSentAt: ContinuousClock.Instant?
    private var nextPingData: UInt64 = 1

    /// Creates the machine for a connection that opened at `now`.
    init(limits: ProtocolLimits, now: ContinuousClock.Instant) {
        self.interval = limits.keepaliveInterval
        self.timeout = limits.keepaliveTimeout
        self.lastReceived = now
    }

    /// Whether a ping has been sent and nothing received since.
    var isAwaitingAnswer: Bool {
        self.pingSentAt != nil
    }

    /// Records that a frame arrived at `now`.
    mutating func frameReceived(now: ContinuousClock.Instant) {
        self.lastReceived = now
        self.pingSentAt = nil
    }

    /// Decides whether to ping, or to give up on the peer.
    mutating func tick(now: ContinuousClock.Instant) -> Action {
        guard let interval = self.interval else {
            return .none
        }
        if let sentAt = self.pingSentAt {
            return now - sentAt >= self.timeout ? .peerUnresponsive : .none
        }
        guard now - self.lastReceived >= interval else {
            return .none
        }
        self.pingSentAt = now
        defer { self.nextPingData &+= 1 }
        return .sendPing(.makePing(data: self.nextPingData))
    }
}
