import GnomonStore

/// Hands ownership changes to a delegate one at a time, in order, on a task of its own.
///
/// The lease manager never waits for the delegate to learn of a lease it lost, since the
/// loss is already in force; it waits only when it gives a shard up on purpose, so that the
/// shard's loop has stopped before the lease is released.
final class OwnershipEvents: Sendable {
    private enum Change: Sendable {
        case acquired(ShardLease)
        case lost(Int, ShardLossReason)
    }

    private struct Event: Sendable {
        var change: Change
        var done: CheckedContinuation<Void, Never>?
    }

    private let continuation: AsyncStream<Event>.Continuation
    private let consumer: Task<Void, Never>

    /// Starts delivering to `delegate`; with no delegate, changes are only dropped in order.
    init(delegate: (any ShardOwnershipDelegate)?) {
        let (stream, continuation) = AsyncStream<Event>.makeStream()
        self.continuation = continuation
        self.consumer = Task {
            for await event in stream {
                switch event.change {
                case .acquired(let lease):
                    await delegate?.shardAcquired(lease)
                case .lost(let shard, let reason):
                    await delegate?.shardLost(shard, reason: reason)
                }
                event.done?.resume()
            }
        }
    }

    /// Tells the delegate a lease was taken, without waiting.
    func acquired(_ lease: ShardLease) {
        self.continuation.yield(Event(change: .acquired(lease), done: nil))
    }

    /// Tells the delegate a shard was lost, without waiting.
    func lost(_ shard: Int, reason: ShardLossReason) {
        self.continuation.yield(Event(change: .lost(shard, reason), done: nil))
    }

    /// Tells the delegate a shard is being given up, and waits until it has stopped the loop.
    func givingUp(_ shard: Int, reason: ShardLossReason) async {
        await withCheckedContinuation { done in
            let result = self.continuation.yield(Event(change: .lost(shard, reason), done: done))
            if case .terminated = result {
                done.resume()
            }
        }
    }

    /// Delivers what is queued, then ends the task.
    func finish() async {
        self.continuation.finish()
        await self.consumer.value
    }
}
