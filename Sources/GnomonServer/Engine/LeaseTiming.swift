/// How long leases last and how often they are renewed, for shards and the upkeep leadership.
public struct LeaseTiming: Sendable, Hashable {
    /// How long a lease, and a node's heartbeat, count on the database's clock.
    public var ttl: Duration
    /// How often leases are renewed and the cluster is looked at again.
    public var renewalInterval: Duration
    /// How much sooner than the database a node gives up a lease it could not renew.
    public var safetyMargin: Duration

    /// Creates timing from a lifetime: renewal every third of it, given up a fifth early.
    ///
    /// With the default of five seconds, a node renews every 1.7 s, stops acting on a lease
    /// it could not renew a second before the database lets another node take it, and a dead
    /// node's shards move within about seven seconds.
    ///
    /// - Parameter ttl: The lease lifetime; at least 300 ms.
    public init(ttl: Duration = .seconds(5)) {
        let ttl = max(ttl, .milliseconds(300))
        self.ttl = ttl
        self.renewalInterval = ttl / 3
        self.safetyMargin = ttl / 5
    }

    /// The lifetime in milliseconds, for log records.
    var ttlMilliseconds: Int64 {
        let components = self.ttl.components
        return components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
    }
}
