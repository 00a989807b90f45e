import Synchronization

/// Counts open connections against a server-wide cap and a cap per client address.
///
/// Thread-safe: listeners admit connections on one loop and release them on others.
/// Addresses are compared as text after normalising IPv4-mapped IPv6 addresses
/// (`::ffff:10.0.0.1` counts as `10.0.0.1`), so a dual-stack listener counts a client once.
public final class ConnectionLimiter: Sendable {
    /// Whether a new connection may stay open, and if not, which cap it hit.
    public enum Admission: Sendable, Hashable {
        /// The connection was counted and may stay open.
        case admitted
        /// The server already has its maximum of connections.
        case serverFull
        /// The client address already has its maximum of connections.
        case addressFull
    }

    private struct Counts {
        var total = 0
        var byAddress: [String: Int] = [:]
    }

    /// The most connections open at once on the server.
    public let maximumConnections: Int
    /// The most connections open at once from one client address.
    public let maximumConnectionsPerAddress: Int

    private let counts = Mutex(Counts())

    /// Creates a limiter with no connections counted.
    ///
    /// - Parameters:
    ///   - maximumConnections: The server-wide cap; at least 1.
    ///   - maximumConnectionsPerAddress: The cap for one client address; at least 1.
    public init(maximumConnections: Int, maximumConnectionsPerAddress: Int) {
        precondition(maximumConnections > 0 && maximumConnectionsPerAddress > 0, "connection caps must be positive")
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
    }

    /// Counts a connection from `address` if both caps allow it.
    ///
    /// - Parameter address: The client's numeric address, as `SocketAddress.host` gives it.
    /// - Returns: ``Admission/admitted`` when counted; the connection must then be released once.
    public func tryAcquire(address: String) -> Admission {
        let key = Self.normalized(address)
        return self.counts.withLock { counts in
            guard counts.total < self.maximumConnections else {
                return .serverFull
            }
            let current = counts.byAddress[key, default: 0]
            guard current < self.maximumConnectionsPerAddress else {
                return .addressFull
            }
            counts.total += 1
            counts.byAddress[key] = current + 1
            return .admitted
        }
    }

    /// Stops counting a connection that ``tryAcquire(address:)`` admitted.
    ///
    /// - Returns: `true` when the server was full before, so a paused listener may resume.
    @discardableResult
    public func release(address: String) -> Bool {
        let key = Self.normalized(address)
        return self.counts.withLock { counts in
            guard let current = counts.byAddress[key], counts.total > 0 else {
                preconditionFailure("released a connection from \(address) that was never admitted")
            }
            let wasFull = counts.total >= self.maximumConnections
            counts.total -= 1
            counts.byAddress[key] = current > 1 ? current - 1 : nil
            return wasFull
        }
    }

    /// How many connections are counted.
    public var connectionCount: Int {
        self.counts.withLock { $0.total }
    }

    /// How many connections from `address` are counted.
    public func connectionCount(address: String) -> Int {
        let key = Self.normalized(address)
        return self.counts.withLock { $0.byAddress[key, default: 0] }
    }

    /// Whether the server-wide cap is reached.
    public var isFull: Bool {
        self.counts.withLock { $0.total >= self.maximumConnections }
    }

    /// The address an IPv4-mapped IPv6 address stands for, lower-cased; others as they are.
    static func normalized(_ address: String) -> String {
        let lowered = address.lowercased()
        let prefix = "::ffff:"
        if lowered.hasPrefix(prefix) && lowered.contains(".") {
            return String(lowered.dropFirst(prefix.count))
        }
        return lowered
    }
}
