import CGnomonShims
import Foundation
import Glibc
import Synchronization

/// One I/O thread waiting on one epoll instance: sockets, timers and tasks, run in turn.
///
/// Everything registered with a loop (sockets, timers, end-of-tick work) belongs to its
/// thread: those calls must be made on it, which ``inEventLoop`` tells. ``execute(_:)``,
/// ``submit(_:)`` and ``shutdown()`` may be called from any thread. Work on the loop must
/// never block, since every connection of the loop waits for it.
public final class EventLoop: @unchecked Sendable {
    /// Where a loop is in its life.
    enum Lifecycle {
        case running
        case stopping
        case stopped
    }

    /// The tasks other threads hand the loop, and whether the loop needs waking for them.
    struct Inbox {
        var tasks: [@Sendable () -> Void] = []
        var lifecycle = Lifecycle.running
        /// Whether the loop is in, or about to enter, `epoll_wait` without a timeout of 0.
        var sleeping = false
    }

    /// The thread's name, as `ps` and debuggers show it.
    public let name: String

    let selector: EventLoopSelector
    private let inbox = Mutex(Inbox())
    private let threadIdentity = Atomic<UInt>(0)
    private let joined = Mutex(false)
    private var thread = pthread_t()

    // The state below belongs to the loop's thread.
    var registrations: [Int32: Registration] = [:]
    var nextGeneration: UInt32 = 1
    var timers = EventLoopTimers()
    var isClosingDown = false
    private var endOfTick: [() -> Void] = []

    /// Scratch space every connection of this loop reads into; its bytes live until the next read.
    let readBuffer: UnsafeMutableRawBufferPointer

    /// Starts a loop on a thread of its own.
    ///
    /// - Parameter name: The thread's name; at most 15 bytes are kept.
    /// - Throws: ``SystemError`` when the epoll instance, the eventfd or the thread cannot be made.
    public init(name: String = "gnomon-io") throws(SystemError) {
        self.name = name
        self.selector = try EventLoopSelector()
        self.readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)

        let start = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(
            &self.thread, nil,
            { argument in
                let loop = Unmanaged<EventLoop>.fromOpaque(argument!).takeRetainedValue()
                loop.run()
                return nil
            }, start)
        guard status == 0 else {
            Unmanaged<EventLoop>.fromOpaque(start).release()
            self.joined.withLock { $0 = true }
            throw SystemError(call: "pthread_create", errno: status)
        }
    }

    deinit {
        self.readBuffer.deallocate()
    }

    /// Whether the caller runs on this loop's thread.
    public var inEventLoop: Bool {
        self.threadIdentity.load(ordering: .acquiring) == UInt(pthread_self())
    }

    /// Runs `task` on the loop's thread soon, waking the loop if it waits; any thread may call.
    ///
    /// Tasks run in the order they were handed over, after the I/O events and timers at hand.
    ///
    /// - Parameter task: The work; it must not block.
    /// - Returns: `false` when the loop is shutting down and the task was dropped.
    @discardableResult
    public func execute(_ task: @escaping @Sendable () -> Void) -> Bool {
        let onLoop = self.inEventLoop
        return self.inbox.withLock { inbox in
            switch inbox.lifecycle {
            case .running:
                break
            case .stopping:
                // While closing down, the loop's own clean-up may still queue work.
                guard onLoop else {
                    return false
                }
            case .stopped:
                return false
            }
            inbox.tasks.append(task)
            if inbox.sleeping {
                inbox.sleeping = false
                self.selector.wake()
            }
            return true
        }
    }

    /// Runs `body` on the loop's thread and returns its result to the awaiting task.
    ///
    /// - Parameter body: The work; it must not block.
    /// - Returns: What `body` returned.
    /// - Throws: What `body` threw, or ``SystemError`` with `ESHUTDOWN` when the loop has shut down.
    public func submit<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = self.execute { continuation.resume(with: Result { try body() }) }
            if !accepted {
                continuation.resume(throwing: Self.shutdownError("EventLoop.submit"))
            }
        }
    }

    /// Closes every socket and timer of the loop, then waits for its thread to end.
    ///
    /// Registered handlers are told first, so connections report their end to their handlers.
    /// Tasks queued before the call still run; tasks handed over afterwards are dropped.
    /// Calling it again waits for the first call. Must not be called on the loop's own thread.
    public func shutdown() {
        precondition(!self.inEventLoop, "an event loop cannot wait for its own thread to end")
        self.inbox.withLock { inbox in
            guard case .running = inbox.lifecycle else {
                return
            }
            inbox.lifecycle = .stopping
            inbox.sleeping = false
            self.selector.wake()
        }
        self.joined.withLock { joined in
            if !joined {
                pthread_join(self.thread, nil)
                joined = true
            }
        }
    }

    /// Shuts the loop down as ``shutdown()`` does, waiting on a thread outside Swift's pool.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                self.shutdown()
                continuation.resume()
            }
        }
    }

    /// Queues `action` to run on this pass of the loop, after its events, timers and tasks.
    ///
    /// Connections flush their writes here, so many writes in one pass make one system call.
    func runAtEndOfTick(_ action: @escaping () -> Void) {
        self.preconditionInEventLoop()
        self.endOfTick.append(action)
    }

    /// Stops the process when called off the loop's thread, naming the caller.
    func preconditionInEventLoop(_ function: StaticString = #function) {
        precondition(self.inEventLoop, "\(function) must be called on the event loop's thread")
    }

    /// The error for work that arrives after the loop began shutting down.
    static func shutdownError(_ call: String) -> SystemError {
        SystemError(call: call, errno: ESHUTDOWN, reason: "the event loop has shut down")
    }

    private func run() {
        self.threadIdentity.store(UInt(pthread_self()), ordering: .releasing)
        gnomon_set_thread_name(self.name)
        let events = UnsafeMutableBufferPointer<gnomon_epoll_event>.allocate(capacity: 256)
        defer { events.deallocate() }

        var stopping = false
        while !stopping {
            let timeout = self.prepareToWait()
            let count: Int
            do {
                count = try self.selector.wait(into: events, timeoutMilliseconds: timeout)
            } catch {
                // Only a broken epoll descriptor fails here, which no later pass could fix.
                fatalError("\(self.name): \(error)")
            }
            for index in 0..<count {
                self.dispatch(events[index])
            }
            self.runDueTimers()
            stopping = self.runTasks()
            self.runEndOfTick()
        }
        self.closeDown()
        // A later thread may get the same pthread_t, and must not pass for this loop's.
        self.threadIdentity.store(0, ordering: .releasing)
    }

    /// Decides how long to wait: not at all with tasks queued, else until the next timer.
    private func prepareToWait() -> Int32 {
        let deadline = self.timers.nextDeadline()
        return self.inbox.withLock { inbox in
            guard inbox.tasks.isEmpty, case .running = inbox.lifecycle else {
                return 0
            }
            inbox.sleeping = true
            guard let deadline else {
                return -1
            }
            let now = EventLoopTimers.now()
            guard deadline > now else {
                return 0
            }
            // Rounded up, so the loop does not wake just before the deadline and spin.
            let milliseconds = (deadline - now + 999_999) / 1_000_000
            return Int32(clamping: milliseconds)
        }
    }

    private func dispatch(_ event: gnomon_epoll_event) {
        guard event.data != EventLoopSelector.wakeToken else {
            self.selector.acknowledgeWake()
            return
        }
        let descriptor = Int32(truncatingIfNeeded: event.data & 0xFFFF_FFFF)
        let generation = UInt32(truncatingIfNeeded: event.data >> 32)
        // An event for a descriptor closed earlier in this pass may name a newer registration.
        guard let registration = self.registrations[descriptor], registration.generation == generation else {
            return
        }
        registration.handler.ioEventsReady(IOEvents(epollEvents: event.events))
    }

    private func runDueTimers() {
        let now = EventLoopTimers.now()
        let limit = self.timers.upcomingID
        while let task = self.timers.popDue(now: now, scheduledBefore: limit) {
            task()
        }
    }

    /// Runs the tasks queued so far; `true` once shutdown has begun.
    private func runTasks() -> Bool {
        let (tasks, lifecycle) = self.inbox.withLock { inbox in
            inbox.sleeping = false
            defer { inbox.tasks.removeAll() }
            return (inbox.tasks, inbox.lifecycle)
        }
        for task in tasks {
            task()
        }
        guard case .running = lifecycle else {
            return true
        }
        return false
    }

    private func runEndOfTick() {
        while !self.endOfTick.isEmpty {
            let actions = self.endOfTick
            self.endOfTick.removeAll()
            for action in actions {
                action()
            }
        }
    }

    /// Tells every registered handler the loop is closing, lets them finish, and closes the loop.
    private func closeDown() {
        self.isClosingDown = true
        for (descriptor, registration) in self.registrations {
            // An earlier handler may have closed this one as part of its own clean-up.
            if self.registrations[descriptor]?.generation == registration.generation {
                registration.handler.eventLoopWillShutDown()
            }
        }
        var rounds = 0
        while rounds < 1000 && self.hasQueuedTasks() {
            _ = self.runTasks()
            self.runEndOfTick()
            rounds += 1
        }
        self.timers.removeAll()
        for descriptor in self.registrations.keys {
            try? self.selector.remove(descriptor)
        }
        self.registrations.removeAll()

        let dropped = self.inbox.withLock { inbox in
            inbox.lifecycle = .stopped
            defer { inbox.tasks.removeAll() }
            return inbox.tasks
        }
        _ = dropped
        self.selector.close()
    }

    private func hasQueuedTasks() -> Bool {
        !self.endOfTick.isEmpty || self.inbox.withLock { !$0.tasks.isEmpty }
    }
}
