import CLibPQ
import Glibc

/// A message sent with NOTIFY and received by a connection that LISTENs on its channel.
public struct PostgresNotification: Sendable, Hashable {
    public var channel: String
    public var payload: String
    /// The server process of the connection that sent it.
    public var senderPID: Int32
}

extension PostgresConnection {
    /// Starts receiving notifications sent on `channel`.
    public func listen(_ channel: String) throws {
        try self.execute(script: "LISTEN \(try self.quotedIdentifier(channel))")
    }

    /// Stops receiving notifications sent on `channel`.
    public func unlisten(_ channel: String) throws {
        try self.execute(script: "UNLISTEN \(try self.quotedIdentifier(channel))")
    }

    /// Sends a notification; it is delivered when the current transaction commits.
    public func notify(_ channel: String, payload: String = "") throws {
        // PostgreSQL delivers a transaction's notifications when it commits: the statement
        // travels with the COMMIT, at no round trip of its own.
        try self.runAtCommit("SELECT pg_notify($1, $2)", [channel, payload])
    }

    /// Returns the notifications received so far, waiting up to `timeout` for one if there are none.
    ///
    /// - Parameter timeout: How long to wait; zero only collects what already arrived.
    /// - Throws: ``StoreError`` with code `connectionFailed` when the connection broke.
    public func notifications(waitingUpTo timeout: Duration = .zero) throws -> [PostgresNotification] {
        var received = try self.drainNotifications()
        guard received.isEmpty, timeout > .zero else {
            return received
        }
        var descriptor = pollfd(fd: PQsocket(self.handle), events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(
            clamping: timeout.components.seconds * 1_000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var ready: Int32
        repeat {
            ready = poll(&descriptor, 1, milliseconds)
        } while ready < 0 && errno == EINTR
        if ready > 0 {
            received = try self.drainNotifications()
        }
        return received
    }

    private func drainNotifications() throws -> [PostgresNotification] {
        guard PQconsumeInput(self.handle) == 1 else {
            throw StoreError(.connectionFailed, "lost the connection: \(Self.errorMessage(self.handle))")
        }
        var received: [PostgresNotification] = []
        while let notification = PQnotifies(self.handle) {
            received.append(
                PostgresNotification(
                    channel: String(cString: notification.pointee.relname),
                    payload: String(cString: notification.pointee.extra),
                    senderPID: notification.pointee.be_pid
                )
            )
            PQfreemem(notification)
        }
        return received
    }
}
