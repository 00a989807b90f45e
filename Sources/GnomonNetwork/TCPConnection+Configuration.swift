extension TCPConnection {
    /// Limits and timeouts of one connection.
    public struct Configuration: Sendable, Hashable {
        /// At or under this many buffered bytes, a connection that stopped being writable is writable again.
        public var lowWatermark: Int
        /// Over this many buffered bytes, the connection is no longer writable.
        public var highWatermark: Int
        /// A write that would buffer more than this closes the connection with `ENOBUFS`,
        /// so a handler that ignores writability cannot exhaust memory.
        public var writeBufferLimit: Int
        /// Closes the connection with `ETIMEDOUT` after this long without a byte read or written.
        public var idleTimeout: Duration?
        /// How long ``TCPConnection/close()`` waits for buffered bytes to leave and the peer to close.
        public var closeTimeout: Duration
        /// Whether small writes go out at once (`TCP_NODELAY`) instead of waiting to be coalesced.
        public var noDelay: Bool

        /// Creates a configuration; the defaults suit request and response traffic.
        ///
        /// - Parameters:
        ///   - lowWatermark: 256 KiB by default.
        ///   - highWatermark: 1 MiB by default.
        ///   - writeBufferLimit: 16 MiB by default; at least `highWatermark`.
        ///   - idleTimeout: None by default.
        ///   - closeTimeout: 5 seconds by default.
        ///   - noDelay: On by default.
        public init(
            lowWatermark: Int = WriteBuffer.defaultLowWatermark,
            highWatermark: Int = WriteBuffer.defaultHighWatermark,
            writeBufferLimit: Int = 16 * 1024 * 1024,
            idleTimeout: Duration? = nil,
            closeTimeout: Duration = .seconds(5),
            noDelay: Bool = true
        ) {
            self.lowWatermark = lowWatermark
            self.highWatermark = highWatermark
            self.writeBufferLimit = writeBufferLimit
            self.idleTimeout = idleTimeout
            self.closeTimeout = closeTimeout
            self.noDelay = noDelay
        }
    }
}
