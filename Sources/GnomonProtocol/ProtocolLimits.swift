/// The limits and timeouts one side of a connection enforces.
///
/// The defaults suit a server on the public internet; every value can be changed.
public struct ProtocolLimits: Sendable, Hashable {
    /// The default maximum frame length: 4 MiB.
    public static let defaultMaximumFrameLength = 4 * 1024 * 1024

    /// The largest frame body accepted or sent, in bytes, not counting the 4-byte length prefix.
    ///
    /// Values above `UInt32.max` act as `UInt32.max`, the most a length prefix can say.
    public var maximumFrameLength: Int
    /// How many streams a client may have open on one connection; a request beyond this is
    /// refused with `RESOURCE_EXHAUSTED` on its own stream.
    public var maximumConcurrentStreams: Int
    /// How long a server waits for the first frame of a new connection, counted from the end of
    /// its TLS handshake, before closing it.
    public var firstFrameTimeout: Duration
    /// How long a server keeps a connection with no open streams before sending
    /// `GOAWAY(IDLE_TIMEOUT)` and closing it. Pings do not count as activity.
    public var idleTimeout: Duration
    /// How long a side waits without receiving any frame before it sends a ping; `nil` sends none.
    public var keepaliveInterval: Duration?
    /// How long a side waits, after sending a ping, for any frame before it considers the
    /// connection dead.
    public var keepaliveTimeout: Duration

    /// Creates limits; every value not given keeps its default.
    ///
    /// - Parameters:
    ///   - maximumFrameLength: Defaults to 4 MiB.
    ///   - maximumConcurrentStreams: Defaults to 100.
    ///   - firstFrameTimeout: Defaults to 10 seconds.
    ///   - idleTimeout: Defaults to 5 minutes.
    ///   - keepaliveInterval: Defaults to 30 seconds.
    ///   - keepaliveTimeout: Defaults to 20 seconds.
    public init(
        maximumFrameLength: Int = Self.defaultMaximumFrameLength,
        maximumConcurrentStreams: Int = 100,
        firstFrameTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(300),
        keepaliveInterval: Duration? = .seconds(30),
        keepaliveTimeout: Duration = .seconds(20)
    ) {
        self.maximumFrameLength = maximumFrameLength
        self.maximumConcurrentStreams = maximumConcurrentStreams
        self.firstFrameTimeout = firstFrameTimeout
        self.idleTimeout = idleTimeout
        self.keepaliveInterval = keepaliveInterval
        self.keepaliveTimeout = keepaliveTimeout
    }

    /// How often a connection passes time to its state machine (``ServerConnectionStateMachine/tick(now:)``).
    ///
    /// Every 100 ms while calls are open, so deadlines end on time; otherwise a tenth of the
    /// shortest connection timeout, between 100 ms and 1 s, so a thousand idle connections do
    /// not wake their loop ten thousand times a second.
    ///
    /// - Parameter openCalls: How many calls the connection has open.
    public func tickInterval(openCalls: Int) -> Duration {
        let busy = Duration.milliseconds(100)
        guard openCalls == 0 else {
            return busy
        }
        let shortest = [self.firstFrameTimeout, self.idleTimeout, self.keepaliveTimeout, self.keepaliveInterval]
            .compactMap { $0 }
            .min()!
        return min(max(shortest / 10, busy), .seconds(1))
    }

    /// The maximum frame length as a length prefix can express it.
    var effectiveMaximumFrameLength: Int {
        min(max(self.maximumFrameLength, 0), Int(UInt32.max))
    }
}
