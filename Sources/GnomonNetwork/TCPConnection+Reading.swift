extension TCPConnection {
    /// How many full reads one readiness report allows, so one busy peer cannot hold the loop.
    private static let readsPerWakeup = 4

    /// Reads what the socket holds and hands it to the handler, while reading is wanted.
    func readAvailable() {
        let buffer = self.eventLoop.readBuffer
        for _ in 0..<Self.readsPerWakeup {
            guard self.wantsToRead else {
                return
            }
            let result: NonBlockingResult<Int>
            do {
                result = try self.socket.read(into: buffer)
            } catch {
                self.finish(error: error)
                return
            }
            guard case .done(let count) = result else {
                return
            }
            guard count > 0 else {
                self.peerFinished()
                return
            }
            self.noteActivity()
            if self.state == .active {
                self.handler?.bytesReceived(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), on: self)
            }
            // A short read emptied the socket; level-triggered readiness reports any more.
            if count < buffer.count {
                return
            }
        }
    }

    private var wantsToRead: Bool {
        switch self.state {
        case .active:
            return !self.isReadingPausedByHandler && !self.peerFinishedSending
        case .closing, .lingering:
            return !self.peerFinishedSending
        case .closed:
            return false
        }
    }

    /// The peer sent its FIN: finish writing what is buffered, then close.
    private func peerFinished() {
        self.peerFinishedSending = true
        switch self.state {
        case .active:
            if self.writeBuffer.isEmpty {
                self.finish(error: nil)
            } else {
                // The peer may still read: let the buffered bytes leave first, within the close timeout.
                self.close()
            }
        case .closing:
            self.updateInterest()
        case .lingering:
            self.finish(error: nil)
        case .closed:
            break
        }
    }
}
