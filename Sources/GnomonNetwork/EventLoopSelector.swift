import CGnomonShims
import Glibc

/// An event loop's epoll instance and the eventfd that wakes it, closed together.
///
/// Only ``wake()`` may be called from other threads, and only while the loop guarantees,
/// under its own lock, that ``close()`` has not run.
final class EventLoopSelector {
    /// The epoll token of the wake-up eventfd; registrations never use generation 0.
    static let wakeToken: UInt64 = 0

    private var epoll: Int32
    private var wakeDescriptor: Int32

    /// Opens the epoll instance and the eventfd, and watches the eventfd.
    init() throws(SystemError) {
        self.epoll = try retryingInterrupts("epoll_create1") { gnomon_epoll_create() }
        do {
            self.wakeDescriptor = try retryingInterrupts("eventfd") { gnomon_eventfd(0, gnomon_efd_nonblock_cloexec) }
        } catch {
            _ = Glibc.close(self.epoll)
            throw error
        }
        do {
            try self.add(self.wakeDescriptor, events: gnomon_epollin, token: Self.wakeToken)
        } catch {
            self.close()
            throw error
        }
    }

    deinit {
        self.close()
    }

    /// Starts watching a descriptor.
    func add(_ descriptor: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        try retryingInterrupts("epoll_ctl") {
            gnomon_epoll_ctl(self.epoll, gnomon_epoll_ctl_add, descriptor, events, token)
        }
    }

    /// Changes which events of a watched descriptor are reported.
    func modify(_ descriptor: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        try retryingInterrupts("epoll_ctl") {
            gnomon_epoll_ctl(self.epoll, gnomon_epoll_ctl_mod, descriptor, events, token)
        }
    }

    /// Stops watching a descriptor.
    func remove(_ descriptor: Int32) throws(SystemError) {
        try retryingInterrupts("epoll_ctl") {
            gnomon_epoll_ctl(self.epoll, gnomon_epoll_ctl_del, descriptor, 0, 0)
        }
    }

    /// Waits for events, at most `timeout` milliseconds; -1 waits without limit.
    ///
    /// - Returns: How many entries of `events` were filled; 0 when interrupted or timed out.
    func wait(
        into events: UnsafeMutableBufferPointer<gnomon_epoll_event>,
        timeoutMilliseconds timeout: Int32
    ) throws(SystemError) -> Int {
        let count = gnomon_epoll_wait(self.epoll, events.baseAddress, Int32(events.count), timeout)
        if count >= 0 {
            return Int(count)
        }
        // An interrupted wait returns to the loop, which recomputes its timers and waits again.
        guard Glibc.errno == EINTR else {
            throw SystemError.current("epoll_wait")
        }
        return 0
    }

    /// Makes a current or coming ``wait(into:timeoutMilliseconds:)`` return.
    func wake() {
        var one: UInt64 = 1
        // EAGAIN means the counter is already non-zero, so the loop will wake anyway.
        _ = try? nonBlocking("write") { Glibc.write(self.wakeDescriptor, &one, MemoryLayout<UInt64>.size) }
    }

    /// Resets the eventfd after it woke the loop.
    func acknowledgeWake() {
        var counter: UInt64 = 0
        _ = try? nonBlocking("read") { Glibc.read(self.wakeDescriptor, &counter, MemoryLayout<UInt64>.size) }
    }

    /// Closes both descriptors; later calls do nothing.
    /// Whether ``close()`` has closed both descriptors; read only once the loop has stopped.
    var isClosed: Bool {
        self.epoll < 0 && self.wakeDescriptor < 0
    }

    func close() {
        if self.wakeDescriptor >= 0 {
            _ = Glibc.close(self.wakeDescriptor)
            self.wakeDescriptor = -1
        }
        if self.epoll >= 0 {
            _ = Glibc.close(self.epoll)
            self.epoll = -1
        }
    }
}
