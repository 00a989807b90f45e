/// The leases a node holds as its own monotonic clock sees them: each one's epoch and deadline.
///
/// The database decides when a lease expires, on its own clock. A node that cannot reach the
/// database, or that was paused, cannot learn that its lease lapsed, so it keeps a stricter
/// deadline of its own: a request sent at `sent` can at best extend the lease to `sent + ttl`
/// on the database's clock, since the database stamps it after it was sent. The node gives
/// the lease up locally at `sent + ttl - safetyMargin` unless a later request succeeded, so it
/// stops acting on a shard before any other node can take it.
///
/// Every event takes the current instant and drops whatever is overdue before anything else,
/// so a node that resumes after a long pause never uses an old epoch, whichever event it
/// handles first.
public struct LeaseHoldingStateMachine<Key: Hashable & Comparable & Sendable>: Sendable {
    /// One lease held: its fencing epoch and the instant it stops counting locally.
    public struct Holding: Sendable, Hashable {
        /// The epoch every write under this lease names.
        public var epoch: Int64
        /// When the lease is given up locally, unless renewed.
        public var deadline: ContinuousClock.Instant
    }

    /// What to do after a renewal came back.
    public struct RenewalAction: Sendable, Hashable {
        /// Leases that were refused or ran past their deadline: stop acting on them now.
        public var lost: [Key]
        /// Leases the database renewed although the node no longer holds them (their deadline
        /// passed while the renewal was on its way): release them so others may take them.
        public var release: [Key: Int64]
    }

    /// How long the database keeps a lease after a request that takes or renews it.
    public let ttl: Duration
    /// How much earlier than the database the node gives a lease up.
    public let safetyMargin: Duration
    private var holdings: [Key: Holding] = [:]

    /// Creates a machine that holds nothing.
    ///
    /// - Parameters:
    ///   - ttl: The lease's lifetime on the database's clock.
    ///   - safetyMargin: How much sooner the node's own deadline falls; less than `ttl`.
    public init(ttl: Duration, safetyMargin: Duration) {
        self.ttl = ttl
        self.safetyMargin = min(max(safetyMargin, .zero), ttl)
    }

    /// The local deadline of a lease taken or renewed by a request sent at `sent`.
    public func deadline(sentAt sent: ContinuousClock.Instant) -> ContinuousClock.Instant {
        sent + self.ttl - self.safetyMargin
    }

    /// The epoch of a lease still held at `now`, or `nil`.
    public func epoch(of key: Key, at now: ContinuousClock.Instant) -> Int64? {
        guard let holding = self.holdings[key], holding.deadline > now else {
            return nil
        }
        return holding.epoch
    }

    /// Every lease held, with its epoch, whether or not its deadline passed.
    public var held: [Key: Int64] {
        self.holdings.mapValues(\.epoch)
    }

    /// The next instant at which a lease may be given up, `nil` when none is held.
    public var earliestDeadline: ContinuousClock.Instant? {
        self.holdings.values.map(\.deadline).min()
    }

    /// Time passed: gives up every lease whose deadline is not after `now`.
    ///
    /// - Returns: The leases given up, in order: stop acting on them.
    public mutating func clockAdvanced(to now: ContinuousClock.Instant) -> [Key] {
        let overdue = self.holdings.filter { $0.value.deadline <= now }.keys.sorted()
        for key in overdue {
            self.holdings[key] = nil
        }
        return overdue
    }

    /// A request sent at `sent` took a lease at `epoch`.
    ///
    /// - Returns: Whether the lease is held; `false` when its deadline had already passed by
    ///   the time the answer came, in which case it must be released without being used.
    public mutating func leaseAcquired(
        _ key: Key,
        epoch: Int64,
        sentAt sent: ContinuousClock.Instant,
        now: ContinuousClock.Instant
    ) -> Bool {
        let deadline = self.deadline(sentAt: sent)
        guard deadline > now else {
            return false
        }
        self.holdings[key] = Holding(epoch: epoch, deadline: deadline)
        return true
    }

    /// A renewal of the leases in `sent`, sent at `sent`, renewed those in `renewed`.
    ///
    /// A lease renewed at the epoch it was sent with gets the deadline of this renewal; one
    /// left out was refused and is lost. Then anything overdue is lost too.
    ///
    /// - Parameters:
    ///   - sent: The leases the request named, with the epochs it named.
    ///   - renewed: The leases the database renewed, with their epochs.
    ///   - sentAt: When the request was sent.
    ///   - now: When its answer was handled.
    public mutating func renewalSucceeded(
        sent: [Key: Int64],
        renewed: [Key: Int64],
        sentAt: ContinuousClock.Instant,
        now: ContinuousClock.Instant
    ) -> RenewalAction {
        var lost: [Key] = []
        var release: [Key: Int64] = [:]
        let deadline = self.deadline(sentAt: sentAt)
        for (key, epoch) in sent {
            let wasRenewed = renewed[key] == epoch
            guard let holding = self.holdings[key], holding.epoch == epoch else {
                if wasRenewed {
                    release[key] = epoch
                }
                continue
            }
            if wasRenewed {
                self.holdings[key]?.deadline = max(holding.deadline, deadline)
            } else {
                self.holdings[key] = nil
                lost.append(key)
            }
        }
        lost += self.clockAdvanced(to: now)
        return RenewalAction(lost: lost.sorted(), release: release)
    }

    /// A renewal failed without an answer: leases stay held until their deadlines.
    ///
    /// - Returns: The leases whose deadline passed: stop acting on them.
    public mutating func renewalFailed(now: ContinuousClock.Instant) -> [Key] {
        self.clockAdvanced(to: now)
    }

    /// The node gave a lease up, or is about to: it stops counting at once.
    ///
    /// - Returns: The epoch it was held at, `nil` when it was not held.
    public mutating func leaseReleased(_ key: Key) -> Int64? {
        self.holdings.removeValue(forKey: key)?.epoch
    }
}
