import Glibc

/// An event loop's pending timers: a min-heap of deadlines on the monotonic clock.
///
/// Cancelling removes the task at once and leaves its heap entry to be skipped; the heap is
/// rebuilt when such dead entries outnumber the live ones, so a connection that re-arms its
/// timer on every read does not grow it without bound.
struct EventLoopTimers {
    private struct Entry {
        var deadline: UInt64
        var id: UInt64

        /// Whether this entry fires before `other`; equal deadlines fire in scheduling order.
        func precedes(_ other: Entry) -> Bool {
            (self.deadline, self.id) < (other.deadline, other.id)
        }
    }

    private var heap: [Entry] = []
    private var tasks: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 1

    /// How many timers are pending.
    var count: Int {
        self.tasks.count
    }

    /// Nanoseconds on the monotonic clock, which no change of wall-clock time moves.
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Adds a timer and returns its identifier.
    mutating func schedule(deadline: UInt64, _ task: @escaping () -> Void) -> UInt64 {
        let id = self.nextID
        self.nextID += 1
        self.tasks[id] = task
        self.heap.append(Entry(deadline: deadline, id: id))
        self.siftUp(from: self.heap.count - 1)
        return id
    }

    /// Cancels a timer; `false` when it already fired or was cancelled.
    @discardableResult
    mutating func cancel(_ id: UInt64) -> Bool {
        guard self.tasks.removeValue(forKey: id) != nil else {
            return false
        }
        if self.heap.count > 64 && self.heap.count > 2 * self.tasks.count {
            self.rebuild()
        }
        return true
    }

    /// The earliest deadline of a timer still pending.
    mutating func nextDeadline() -> UInt64? {
        self.dropCancelledTop()
        return self.heap.first?.deadline
    }

    /// Removes and returns the earliest timer due at `now` that was scheduled before `limit`.
    ///
    /// The limit keeps a timer that schedules another for right now from running in the same
    /// pass, so a pass always ends.
    mutating func popDue(now: UInt64, scheduledBefore limit: UInt64) -> (() -> Void)? {
        self.dropCancelledTop()
        guard let top = self.heap.first, top.deadline <= now, top.id < limit else {
            return nil
        }
        self.removeTop()
        return self.tasks.removeValue(forKey: top.id)
    }

    /// The identifier the next scheduled timer will get.
    var upcomingID: UInt64 {
        self.nextID
    }

    /// Drops every pending timer without running it.
    mutating func removeAll() {
        self.heap.removeAll()
        self.tasks.removeAll()
    }

    private mutating func dropCancelledTop() {
        while let top = self.heap.first, self.tasks[top.id] == nil {
            self.removeTop()
        }
    }

    private mutating func rebuild() {
        let live = self.tasks
        self.heap.removeAll { live[$0.id] == nil }
        var index = self.heap.count / 2
        while index > 0 {
            index -= 1
            self.siftDown(from: index)
        }
    }

    private mutating func removeTop() {
        let last = self.heap.removeLast()
        if !self.heap.isEmpty {
            self.heap[0] = last
            self.siftDown(from: 0)
        }
    }

    private mutating func siftUp(from start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard self.heap[child].precedes(self.heap[parent]) else {
                return
            }
            self.heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var first = parent
            if left < self.heap.count && self.heap[left].precedes(self.heap[first]) {
                first = left
            }
            if right < self.heap.count && self.heap[right].precedes(self.heap[first]) {
                first = right
            }
            guard first != parent else {
                return
            }
            self.heap.swapAt(parent, first)
            parent = first
        }
    }
}
