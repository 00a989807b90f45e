import Glibc

/// A non-blocking TCP connection owned by one event loop, with a bounded write buffer.
///
/// Bytes in go to the ``TCPConnectionHandler``; bytes out are buffered by ``write(_:)-(UnsafeRawBufferPointer)``
/// and flushed at the end of the loop's pass, so many writes in one pass cost one system call.
///
/// When the peer ends its stream, the connection writes what is buffered and then closes:
/// half-open connections are not kept.
///
/// Threading: ``eventLoop``, ``remoteAddress``, ``localAddress`` and ``configuration`` may be
/// read from any thread. Everything else must be called on ``eventLoop``'s thread; from
/// elsewhere, hop there with ``EventLoop/execute(_:)``. The handler is released once it has
/// been told the connection closed.
public final class TCPConnection: @unchecked Sendable {
    /// Where the connection is in its life.
    enum State {
        /// Open: bytes flow both ways.
        case active
        /// ``close()`` was called: buffered bytes are still leaving; incoming ones are dropped.
        case closing
        /// Everything was written and a FIN sent; waiting for the peer's, bytes dropped.
        case lingering
        /// The descriptor is closed.
        case closed
    }

    /// The loop whose thread runs this connection.
    public let eventLoop: EventLoop
    /// The peer's address.
    public let remoteAddress: SocketAddress
    /// This end's address.
    public let localAddress: SocketAddress
    /// The limits and timeouts this connection was opened with.
    public let configuration: Configuration

    let socket: Socket
    let writeBuffer: WriteBuffer
    var handler: (any TCPConnectionHandler)?
    var state = State.active
    var isReadingPausedByHandler = false
    /// The peer sent its FIN: reading again would only report the end again.
    var peerFinishedSending = false
    var isAwaitingWritable = false
    var isFlushScheduled = false
    /// The writability the handler last heard of.
    var reportedWritable = true
    var registeredInterest: IOEvents?
    var timers: Set<TimerID> = []
    var lastActivity: UInt64 = 0
    /// Run once when the descriptor closes, as a listener's release of its connection count.
    var closeHook: (() -> Void)?

    init(
        socket: Socket,
        eventLoop: EventLoop,
        configuration: Configuration,
        remoteAddress: SocketAddress,
        localAddress: SocketAddress
    ) {
        self.socket = socket
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.writeBuffer = WriteBuffer(
            lowWatermark: configuration.lowWatermark,
            highWatermark: configuration.highWatermark)
    }

    /// Whether the connection is open and not closing; loop thread only.
    public var isActive: Bool {
        self.eventLoop.preconditionInEventLoop()
        return self.state == .active
    }

    /// Whether reading is paused by ``setReadingPaused(_:)``; loop thread only.
    public var isReadingPaused: Bool {
        self.eventLoop.preconditionInEventLoop()
        return self.isReadingPausedByHandler
    }

    /// Stops or resumes reading from the socket; loop thread only.
    ///
    /// While paused, the kernel's receive buffer fills and TCP flow control slows the peer
    /// down: the way to push back when this side's write buffer is full or its work is slow.
    public func setReadingPaused(_ paused: Bool) {
        self.eventLoop.preconditionInEventLoop()
        guard self.isReadingPausedByHandler != paused else {
            return
        }
        self.isReadingPausedByHandler = paused
        self.updateInterest()
    }

    /// Writes what is buffered, then closes; loop thread only.
    ///
    /// Incoming bytes are no longer delivered, and the handler's timers are cancelled. After
    /// the last buffered byte leaves, a FIN is sent and the connection waits for the peer's,
    /// so the peer reads everything before it sees the end. Both waits together are bounded
    /// by ``Configuration/closeTimeout``, after which the connection closes with `ETIMEDOUT`.
    public func close() {
        self.eventLoop.preconditionInEventLoop()
        guard self.state == .active else {
            return
        }
        self.state = .closing
        self.cancelTimers()
        self.scheduleInternalTimer(after: self.configuration.closeTimeout) { [self] in
            self.finish(
                error: SystemError(
                    call: "TCPConnection.close", errno: ETIMEDOUT,
                    reason: "the peer did not take the last bytes and close within \(self.configuration.closeTimeout)"))
        }
        if self.writeBuffer.isEmpty {
            self.sendFinAndLinger()
        } else {
            self.scheduleFlush()
            self.updateInterest()
        }
    }

    /// Closes at once, dropping buffered bytes; loop thread only.
    public func abort() {
        self.eventLoop.preconditionInEventLoop()
        self.finish(error: nil)
    }

    /// Runs `task` on the loop after `delay`, unless the connection closes first; loop thread only.
    ///
    /// - Returns: The timer's identifier, for ``cancelTimer(_:)``.
    @discardableResult
    public func scheduleTimer(after delay: Duration, _ task: @escaping () -> Void) -> TimerID {
        self.eventLoop.preconditionInEventLoop()
        guard self.state == .active else {
            return TimerID(raw: 0)
        }
        return self.scheduleInternalTimer(after: delay, task)
    }

    /// Cancels a timer of this connection; loop thread only.
    ///
    /// - Returns: `false` when it already ran or was cancelled.
    @discardableResult
    public func cancelTimer(_ id: TimerID) -> Bool {
        self.eventLoop.preconditionInEventLoop()
        guard self.timers.remove(id) != nil else {
            return false
        }
        return self.eventLoop.cancelTimer(id)
    }

    /// Registers with the loop, installs the handler and tells it the connection is active.
    ///
    /// - Throws: ``SystemError`` when registration fails; the connection is then closed.
    func activate(handler: any TCPConnectionHandler) throws(SystemError) {
        self.handler = handler
        do {
            let registration = TCPConnectionRegistration(connection: self)
            try self.eventLoop.register(fd: self.socket.descriptor, interest: .readable, handler: registration)
            self.registeredInterest = .readable
        } catch {
            self.finish(error: error, notify: false)
            throw error
        }
        self.lastActivity = EventLoopTimers.now()
        self.armIdleTimer()
        handler.connectionActive(self)
    }

    /// Closes the descriptor, cancels timers, and tells the handler once.
    func finish(error: SystemError?, notify: Bool = true) {
        guard self.state != .closed else {
            return
        }
        self.state = .closed
        self.cancelTimers()
        if self.registeredInterest != nil {
            try? self.eventLoop.deregister(fd: self.socket.descriptor)
            self.registeredInterest = nil
        }
        self.socket.close()
        self.writeBuffer.removeAll()

        let handler = self.handler
        self.handler = nil
        let hook = self.closeHook
        self.closeHook = nil
        hook?()
        if notify {
            handler?.connectionClosed(error, on: self)
        }
    }

    /// Asks the loop for the events the current state needs, if they changed.
    func updateInterest() {
        guard let registered = self.registeredInterest else {
            return
        }
        var wanted: IOEvents = []
        switch self.state {
        case .active:
            if !self.isReadingPausedByHandler && !self.peerFinishedSending {
                wanted.insert(.readable)
            }
        case .closing, .lingering:
            // Bytes still arriving are read and dropped, so closing does not answer them with a reset.
            if !self.peerFinishedSending {
                wanted.insert(.readable)
            }
        case .closed:
            return
        }
        if self.isAwaitingWritable {
            wanted.insert(.writable)
        }
        guard wanted != registered else {
            return
        }
        do {
            try self.eventLoop.modify(fd: self.socket.descriptor, interest: wanted)
            self.registeredInterest = wanted
        } catch {
            self.finish(error: error)
        }
    }

    /// Sends a FIN once the buffer is empty, then waits for the peer's end.
    func sendFinAndLinger() {
        self.state = .lingering
        do {
            try self.socket.shutdownWriting()
        } catch {
            // The peer is already gone, so there is nothing to wait for.
            self.finish(error: nil)
            return
        }
        if self.peerFinishedSending {
            self.finish(error: nil)
        } else {
            self.updateInterest()
        }
    }

    /// Schedules a timer that ``finish(error:notify:)`` cancels.
    @discardableResult
    func scheduleInternalTimer(after delay: Duration, _ task: @escaping () -> Void) -> TimerID {
        var id = TimerID(raw: 0)
        id = self.eventLoop.scheduleTimer(after: delay) { [self] in
            self.timers.remove(id)
            task()
        }
        self.timers.insert(id)
        return id
    }

    private func cancelTimers() {
        for id in self.timers {
            self.eventLoop.cancelTimer(id)
        }
        self.timers.removeAll()
    }

    /// Closes the connection once no byte moved for the idle timeout.
    private func armIdleTimer() {
        guard let idleTimeout = self.configuration.idleTimeout, self.state == .active else {
            return
        }
        let limit = EventLoop.nanoseconds(idleTimeout)
        let idle = EventLoopTimers.now() &- self.lastActivity
        guard idle < limit else {
            self.finish(
                error: SystemError(
                    call: "TCPConnection.idleTimeout", errno: ETIMEDOUT,
                    reason: "no bytes moved for \(idleTimeout)"))
            return
        }
        // Activity does not reschedule the timer; the timer checks when it fires and re-arms.
        self.scheduleInternalTimer(after: .nanoseconds(Int64(limit - idle))) { [self] in
            self.armIdleTimer()
        }
    }

    /// Handles readiness the loop reported.
    fileprivate func ioEventsReady(_ events: IOEvents) {
        if events.contains(.error) {
            let code = self.socket.takePendingError()
            self.finish(error: code == 0 ? nil : SystemError(call: "socket", errno: code))
            return
        }
        if events.contains(.writable) && self.isAwaitingWritable {
            self.flushNow()
        }
        if events.contains(.readable) {
            self.readAvailable()
        } else if events.contains(.hangup) {
            // Both directions are shut and reading is off, so nothing more can happen.
            self.finish(error: nil)
        }
    }
}

/// Passes a loop's readiness reports to a connection, keeping it alive while registered.
private final class TCPConnectionRegistration: EventLoopIOHandler {
    let connection: TCPConnection

    init(connection: TCPConnection) {
        self.connection = connection
    }

    func ioEventsReady(_ events: IOEvents) {
        self.connection.ioEventsReady(events)
    }

    func eventLoopWillShutDown() {
        self.connection.finish(error: EventLoop.shutdownError("EventLoop.shutdown"))
    }
}
