import CGnomonShims
import Glibc

/// Readiness of a file descriptor, as an event loop reports it.
public struct IOEvents: OptionSet, Sendable, Hashable {
    /// The set's bits; not epoll's.
    public let rawValue: UInt8

    /// Creates a set from its raw bits.
    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Data can be read, or the peer closed its side (a read then returns 0).
    public static let readable = IOEvents(rawValue: 1 << 0)
    /// Data can be written, or a connection in progress finished.
    public static let writable = IOEvents(rawValue: 1 << 1)
    /// The descriptor has a pending error; always reported, whatever the interest.
    public static let error = IOEvents(rawValue: 1 << 2)
    /// Both directions are closed; always reported, whatever the interest.
    public static let hangup = IOEvents(rawValue: 1 << 3)

    /// Reads the bits `epoll_wait` reported.
    init(epollEvents: UInt32) {
        var events: IOEvents = []
        if epollEvents & gnomon_epollin != 0 {
            events.insert(.readable)
        }
        if epollEvents & gnomon_epollout != 0 {
            events.insert(.writable)
        }
        if epollEvents & gnomon_epollerr != 0 {
            events.insert(.error)
        }
        if epollEvents & gnomon_epollhup != 0 {
            events.insert(.hangup)
        }
        self = events
    }

    /// The interest as `epoll_ctl` takes it; errors and hang-ups need no asking.
    var epollInterest: UInt32 {
        (self.contains(.readable) ? gnomon_epollin : 0) | (self.contains(.writable) ? gnomon_epollout : 0)
    }
}

/// The owner of a file descriptor registered with an event loop.
///
/// Both methods are called on the loop's thread.
public protocol EventLoopIOHandler: AnyObject {
    /// The descriptor is ready for some of what was asked, or has an error or hang-up.
    func ioEventsReady(_ events: IOEvents)

    /// The loop is shutting down: close the descriptor now, deregistering it first.
    func eventLoopWillShutDown()
}

extension EventLoop {
    /// A descriptor's handler, and the generation that tells it from an earlier owner of the number.
    struct Registration {
        var handler: any EventLoopIOHandler
        var generation: UInt32
    }

    /// Starts watching a descriptor; loop thread only.
    ///
    /// The loop keeps a strong reference to `handler` until ``deregister(fd:)``. The
    /// descriptor must be non-blocking; readiness is level-triggered, so interest in an
    /// event that is not acted on makes the loop spin.
    ///
    /// - Parameters:
    ///   - fd: An open, non-blocking descriptor not yet registered with this loop.
    ///   - interest: The events to report, of ``IOEvents/readable`` and ``IOEvents/writable``.
    ///   - handler: Told of readiness and of the loop's shutdown.
    /// - Throws: ``SystemError`` for `epoll_ctl`, or with `ESHUTDOWN` once the loop is closing.
    public func register(fd: Int32, interest: IOEvents, handler: any EventLoopIOHandler) throws(SystemError) {
        self.preconditionInEventLoop()
        guard !self.isClosingDown else {
            throw Self.shutdownError("EventLoop.register")
        }
        let generation = self.nextGeneration
        self.nextGeneration = self.nextGeneration == UInt32.max ? 1 : self.nextGeneration + 1
        try self.selector.add(fd, events: interest.epollInterest, token: Self.token(fd, generation))
        self.registrations[fd] = Registration(handler: handler, generation: generation)
    }

    /// Changes which events are reported for a registered descriptor; loop thread only.
    ///
    /// - Throws: ``SystemError`` for `epoll_ctl`, or `ENOENT` when `fd` is not registered.
    public func modify(fd: Int32, interest: IOEvents) throws(SystemError) {
        self.preconditionInEventLoop()
        guard let registration = self.registrations[fd] else {
            throw SystemError(call: "EventLoop.modify", errno: ENOENT)
        }
        let token = Self.token(fd, registration.generation)
        try self.selector.modify(fd, events: interest.epollInterest, token: token)
    }

    /// Stops watching a descriptor and releases its handler; loop thread only.
    ///
    /// Call it before closing the descriptor. Events already collected for it are not delivered.
    ///
    /// - Throws: ``SystemError`` for `epoll_ctl`, or `ENOENT` when `fd` is not registered.
    public func deregister(fd: Int32) throws(SystemError) {
        self.preconditionInEventLoop()
        guard self.registrations.removeValue(forKey: fd) != nil else {
            throw SystemError(call: "EventLoop.deregister", errno: ENOENT)
        }
        try self.selector.remove(fd)
    }

    private static func token(_ descriptor: Int32, _ generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: descriptor))
    }
}
