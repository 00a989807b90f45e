import CGnomonShims
import Glibc

/// A non-blocking TCP socket descriptor, closed when this owner is closed or released.
///
/// Every call retries `EINTR`, reports `EAGAIN` as ``NonBlockingResult/wouldBlock`` where
/// waiting makes sense, and turns any other `errno` into a ``SystemError`` naming the call.
/// Not thread-safe: one event loop, or one thread before it is handed to a loop, uses it.
final class Socket {
    /// The descriptor, or -1 once closed.
    private(set) var descriptor: Int32

    /// Takes over a descriptor, which this socket will close.
    init(takingOwnership descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Opens a non-blocking, close-on-exec TCP socket.
    ///
    /// - Parameter family: `AF_INET` or `AF_INET6`.
    /// - Throws: ``SystemError`` for `socket`.
    convenience init(tcpFamily family: Int32) throws(SystemError) {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let descriptor = try retryingInterrupts("socket") { Glibc.socket(family, type, 0) }
        self.init(takingOwnership: descriptor)
    }

    deinit {
        self.close()
    }

    /// Whether the descriptor is still open.
    var isOpen: Bool {
        self.descriptor >= 0
    }

    /// Closes the descriptor; later calls do nothing.
    func close() {
        guard self.descriptor >= 0 else {
            return
        }
        // close is not retried on EINTR: Linux has released the descriptor by then.
        _ = Glibc.close(self.descriptor)
        self.descriptor = -1
    }

    /// Sets an integer socket option, such as `SO_REUSEADDR` or `TCP_NODELAY`.
    func setOption(level: Int32, name: Int32, value: Int32) throws(SystemError) {
        var value = value
        try retryingInterrupts("setsockopt") {
            setsockopt(self.descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// Takes the pending error, as a finished non-blocking `connect` leaves it; 0 when none.
    func takePendingError() -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(self.descriptor, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else {
            return Glibc.errno
        }
        return value
    }

    /// Binds to a local address.
    func bind(to address: SocketAddress) throws(SystemError) {
        try address.withSocketAddress { (pointer, length) throws(SystemError) in
            try retryingInterrupts("bind") { Glibc.bind(self.descriptor, pointer, length) }
        }
    }

    /// Starts listening, with room for `backlog` connections not yet accepted.
    func listen(backlog: Int32) throws(SystemError) {
        try retryingInterrupts("listen") { Glibc.listen(self.descriptor, backlog) }
    }

    /// Accepts one waiting connection as a non-blocking, close-on-exec descriptor.
    ///
    /// - Returns: The new descriptor, which the caller owns, and the peer's address.
    func accept() throws(SystemError) -> NonBlockingResult<(descriptor: Int32, peer: SocketAddress?)> {
        var storage = sockaddr_storage()
        var length = UInt32(MemoryLayout<sockaddr_storage>.size)
        let result = try nonBlocking("accept4") {
            gnomon_accept_nonblocking(self.descriptor, &storage, &length)
        }
        guard case .done(let descriptor) = result else {
            return .wouldBlock
        }
        return .done((descriptor, SocketAddress(storage)))
    }

    /// Starts a connection.
    ///
    /// - Returns: `true` when connected at once, `false` when it is in progress and the
    ///   socket will turn writable once it is done.
    func connect(to address: SocketAddress) throws(SystemError) -> Bool {
        try address.withSocketAddress { (pointer, length) throws(SystemError) -> Bool in
            guard Glibc.connect(self.descriptor, pointer, length) != 0 else {
                return true
            }
            switch Glibc.errno {
            case EINPROGRESS, EINTR:
                // An interrupted connect goes on in the background, as one in progress does.
                return false
            default:
                throw SystemError.current("connect")
            }
        }
    }

    /// Reads what is there into `buffer`; `.done(0)` means the peer will send no more.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> NonBlockingResult<Int> {
        try nonBlocking("read") { Glibc.read(self.descriptor, buffer.baseAddress, buffer.count) }
    }

    /// Writes from several buffers at once, never raising `SIGPIPE`.
    ///
    /// - Returns: How many bytes the kernel took, from the front.
    func send(_ vectors: UnsafeMutableBufferPointer<iovec>) throws(SystemError) -> NonBlockingResult<Int> {
        var message = msghdr()
        message.msg_iov = vectors.baseAddress
        message.msg_iovlen = vectors.count
        return try nonBlocking("sendmsg") { sendmsg(self.descriptor, &message, Int32(MSG_NOSIGNAL)) }
    }

    /// Sends a FIN: the peer reads the end of the stream once it has read everything before.
    func shutdownWriting() throws(SystemError) {
        try retryingInterrupts("shutdown") { Glibc.shutdown(self.descriptor, Int32(SHUT_WR)) }
    }

    /// The address this socket is bound to.
    func localAddress() throws(SystemError) -> SocketAddress {
        try self.address(call: "getsockname") { getsockname($0, $1, $2) }
    }

    /// The address of the connected peer.
    func remoteAddress() throws(SystemError) -> SocketAddress {
        try self.address(call: "getpeername") { getpeername($0, $1, $2) }
    }

    private func address(
        call: String,
        _ body: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try withUnsafeMutablePointer(to: &storage) { (pointer) throws(SystemError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(SystemError) in
                try retryingInterrupts(call) { body(self.descriptor, address, &length) }
            }
        }
        guard let address = SocketAddress(storage) else {
            throw SystemError(call: call, errno: EAFNOSUPPORT)
        }
        return address
    }
}
