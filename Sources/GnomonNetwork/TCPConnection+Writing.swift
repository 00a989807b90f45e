import Glibc

extension TCPConnection {
    /// How many buffers one `sendmsg` takes at most.
    private static let vectorsPerSend = 64

    /// Whether the write buffer is at or under its watermarks; loop thread only.
    ///
    /// `false` once more than the high watermark is buffered, until the buffer drains to the
    /// low watermark; ``TCPConnectionHandler/writabilityChanged(isWritable:on:)`` reports each change.
    public var isWritable: Bool {
        self.eventLoop.preconditionInEventLoop()
        return self.writeBuffer.isWritable
    }

    /// How many bytes wait to be written; loop thread only.
    public var bufferedByteCount: Int {
        self.eventLoop.preconditionInEventLoop()
        return self.writeBuffer.count
    }

    /// Buffers a copy of `bytes` to be written at the end of the loop's pass; loop thread only.
    ///
    /// Writes are never refused for being over the high watermark: the return value says to
    /// stop producing. A write that would take the buffer over
    /// ``Configuration/writeBufferLimit`` closes the connection with `ENOBUFS` instead.
    /// Writes after ``close()`` are dropped.
    ///
    /// - Parameter bytes: The bytes; copied before the call returns.
    /// - Returns: ``isWritable`` after the write: `false` means stop until
    ///   ``TCPConnectionHandler/writabilityChanged(isWritable:on:)`` reports `true`.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        self.eventLoop.preconditionInEventLoop()
        guard self.state == .active else {
            return false
        }
        guard self.writeBuffer.count + bytes.count <= self.configuration.writeBufferLimit else {
            self.finish(
                error: SystemError(
                    call: "TCPConnection.write", errno: ENOBUFS,
                    reason: "the write buffer would pass its limit of \(self.configuration.writeBufferLimit) bytes"))
            return false
        }
        self.writeBuffer.append(bytes)
        self.scheduleFlush()
        self.reportWritabilityIfChanged()
        return self.state == .active && self.writeBuffer.isWritable
    }

    /// Buffers a copy of `bytes`, as ``write(_:)-(UnsafeRawBufferPointer)`` does; loop thread only.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { self.write($0) }
    }

    /// Writes what the socket takes now instead of at the end of the loop's pass; loop thread only.
    public func flush() {
        self.eventLoop.preconditionInEventLoop()
        if !self.isAwaitingWritable {
            self.flushNow()
        }
    }

    /// Flushes at the end of this pass of the loop, unless a flush already waits.
    func scheduleFlush() {
        guard !self.isFlushScheduled && !self.isAwaitingWritable else {
            return
        }
        self.isFlushScheduled = true
        self.eventLoop.runAtEndOfTick { [self] in
            self.isFlushScheduled = false
            if !self.isAwaitingWritable {
                self.flushNow()
            }
        }
    }

    /// Writes until the buffer is empty or the socket is full, which arms writability events.
    func flushNow() {
        guard self.state == .active || self.state == .closing else {
            return
        }
        var socketFull = false
        while !self.writeBuffer.isEmpty && !socketFull {
            let outcome: (result: NonBlockingResult<Int>, offered: Int)
            do {
                outcome = try self.writeBuffer.withIOVectors(maximumCount: Self.vectorsPerSend) {
                    (vectors) throws(SystemError) in
                    let offered = vectors.reduce(0) { $0 + $1.iov_len }
                    return (try self.socket.send(vectors), offered)
                }
            } catch {
                self.finish(error: error)
                return
            }
            guard case .done(let written) = outcome.result else {
                socketFull = true
                break
            }
            self.writeBuffer.consume(written)
            self.noteActivity()
            // A short write means the socket buffer is full; the next call would only fail.
            socketFull = written < outcome.offered
        }
        self.isAwaitingWritable = socketFull
        self.updateInterest()
        guard self.state != .closed else {
            return
        }
        if self.state == .closing && self.writeBuffer.isEmpty {
            self.sendFinAndLinger()
            return
        }
        self.reportWritabilityIfChanged()
    }

    /// Tells the handler when writability differs from what it last heard.
    func reportWritabilityIfChanged() {
        let writable = self.writeBuffer.isWritable
        guard self.state == .active, writable != self.reportedWritable else {
            return
        }
        self.reportedWritable = writable
        self.handler?.writabilityChanged(isWritable: writable, on: self)
    }

    /// Records that bytes moved, for the idle timeout.
    func noteActivity() {
        if self.configuration.idleTimeout != nil {
            self.lastActivity = EventLoopTimers.now()
        }
    }
}
