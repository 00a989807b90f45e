import Glibc

/// A descriptor on its way from the accepting loop to the loop that will own it.
private struct AcceptedSocket: Sendable {
    var descriptor: Int32
    var peer: SocketAddress
}

extension TCPListener {
    /// How many connections one readiness report accepts, so the listener shares its loop.
    private static let acceptsPerWakeup = 64

    /// How long accepting pauses after running out of descriptors or memory.
    private static let resourceBackoff = Duration.milliseconds(100)

    /// Accepts waiting connections while the server-wide cap allows; loop thread only.
    func acceptAvailable() {
        for _ in 0..<Self.acceptsPerWakeup {
            guard self.socket.isOpen && self.isAccepting else {
                return
            }
            guard !self.limiter.isFull else {
                self.pauseWhileFull()
                return
            }
            let result: NonBlockingResult<(descriptor: Int32, peer: SocketAddress?)>
            do {
                result = try self.socket.accept()
            } catch {
                self.acceptFailed(error)
                return
            }
            guard case .done(let accepted) = result else {
                return
            }
            guard let peer = accepted.peer else {
                _ = Glibc.close(accepted.descriptor)
                continue
            }
            self.admit(AcceptedSocket(descriptor: accepted.descriptor, peer: peer))
        }
    }

    /// Counts the connection and hands it to the next loop, or closes it when over a cap.
    private func admit(_ accepted: AcceptedSocket) {
        switch self.limiter.tryAcquire(address: accepted.peer.host) {
        case .admitted:
            let loop = self.group.next()
            let handedOver = loop.execute { self.startConnection(accepted, on: loop) }
            if !handedOver {
                _ = Glibc.close(accepted.descriptor)
                self.release(accepted.peer)
            }

        case .addressFull:
            // Refused at once: the peer sees its connection closed before any byte.
            _ = Glibc.close(accepted.descriptor)

        case .serverFull:
            // Only a limiter shared with another listener fills between the check and here.
            _ = Glibc.close(accepted.descriptor)
            self.pauseWhileFull()
        }
    }

    /// Wraps an accepted descriptor in a connection owned by `loop`; on `loop`'s thread.
    private func startConnection(_ accepted: AcceptedSocket, on loop: EventLoop) {
        let socket = Socket(takingOwnership: accepted.descriptor)
        if self.configuration.connection.noDelay {
            try? socket.setOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
        }
        let connection = TCPConnection(
            socket: socket, eventLoop: loop, configuration: self.configuration.connection,
            remoteAddress: accepted.peer, localAddress: (try? socket.localAddress()) ?? self.localAddress)
        connection.closeHook = { [self] in self.release(accepted.peer) }
        try? connection.activate(handler: self.makeHandler(connection))
    }

    /// Stops counting a connection, and resumes accepting if the cap had stopped it.
    private func release(_ peer: SocketAddress) {
        if self.limiter.release(address: peer.host) {
            self.eventLoop.execute { self.resumeAccepting() }
        }
    }

    /// Stops accepting until a connection closes; connections meanwhile wait in the backlog.
    private func pauseWhileFull() {
        self.setAccepting(false)
        // A connection may have closed between the check and the pause, with nobody left to resume.
        if !self.limiter.isFull {
            self.setAccepting(true)
        }
    }

    private func resumeAccepting() {
        guard self.backoffTimer == nil else {
            return
        }
        self.setAccepting(true)
    }

    /// Skips connections that died before being accepted; backs off when out of resources.
    private func acceptFailed(_ error: SystemError) {
        switch error.errno {
        case ECONNABORTED, EPROTO, EPERM:
            return
        default:
            // EMFILE, ENFILE, ENOBUFS, ENOMEM: accepting again at once would only spin.
            self.setAccepting(false)
            self.backoffTimer = self.eventLoop.scheduleTimer(after: Self.resourceBackoff) { [self] in
                self.backoffTimer = nil
                self.setAccepting(true)
            }
        }
    }

    private func setAccepting(_ accepting: Bool) {
        guard self.isAccepting != accepting, self.isRegistered else {
            return
        }
        self.isAccepting = accepting
        try? self.eventLoop.modify(fd: self.socket.descriptor, interest: accepting ? .readable : [])
    }
}
