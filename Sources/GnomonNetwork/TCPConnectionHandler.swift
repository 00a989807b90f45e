/// What a connection tells the code that speaks over it: bytes in, room to write, the end.
///
/// Every method is called on the connection's event loop thread, and may call back into
/// the connection (write, pause reading, close, schedule timers) on the spot. A handler must
/// not block: hand slow work to a task and come back with ``EventLoop/execute(_:)``.
public protocol TCPConnectionHandler: AnyObject {
    /// The connection is open and registered; its handler may write at once.
    func connectionActive(_ connection: TCPConnection)

    /// Bytes arrived, as many or as few as the socket had: frames may be split or coalesced.
    ///
    /// - Parameters:
    ///   - bytes: Valid only during the call; copy what is kept.
    ///   - connection: The connection they came on.
    func bytesReceived(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection)

    /// The write buffer crossed a watermark.
    ///
    /// `false` once more than the high watermark waits: stop producing (pause reading if the
    /// writes answer reads). `true` once the buffer drained to the low watermark: resume.
    func writabilityChanged(isWritable: Bool, on connection: TCPConnection)

    /// The connection is closed and its descriptor released; no other call follows.
    ///
    /// - Parameter error: `nil` after ``TCPConnection/close()``, ``TCPConnection/abort()``
    ///   or an orderly end from the peer; otherwise why it ended, as `ECONNRESET`,
    ///   `ETIMEDOUT` for the idle timeout, `ENOBUFS` for the write buffer limit, or
    ///   `ESHUTDOWN` when the event loop shut down.
    func connectionClosed(_ error: SystemError?, on connection: TCPConnection)
}

extension TCPConnectionHandler {
    /// Does nothing.
    public func connectionActive(_ connection: TCPConnection) {}

    /// Does nothing.
    public func writabilityChanged(isWritable: Bool, on connection: TCPConnection) {}
}
