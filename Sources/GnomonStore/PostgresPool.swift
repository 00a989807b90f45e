import Foundation
public import GnomonCore
import Synchronization

/// A bounded pool of PostgreSQL connections, each on a thread of its own.
///
/// Callers borrow a connection for the length of a closure, which runs on that connection's
/// thread, so libpq's blocking calls never hold a thread of Swift's cooperative pool. When
/// every connection is busy, callers wait in order. A connection found broken is replaced
/// before it is lent again.
public final class PostgresPool: Sendable {
    private struct State {
        var idle: [PooledConnection] = []
        var opened = 0
        var waiters: [CheckedContinuation<PooledConnection, any Error>] = []
        var closed = false
    }

    private let connectionString: String
    private let tls: PostgresTLSOptions?
    private let maximumConnections: Int
    private let logger: Logger
    private let state = Mutex(State())

    /// Creates a pool; connections open on first use.
    ///
    /// - Parameters:
    ///   - connectionString: A libpq URL or key=value string; never logged.
    ///   - tls: TLS settings that override those of the connection string.
    ///   - maximumConnections: At most this many connections are open at once.
    ///   - logger: Receives debug records of connections opened and replaced.
    public init(
        connectionString: String,
        tls: PostgresTLSOptions? = nil,
        maximumConnections: Int = 8,
        logger: Logger = .disabled
    ) {
        self.connectionString = connectionString
        self.tls = tls
        self.maximumConnections = max(1, maximumConnections)
        self.logger = logger
    }

    /// Borrows a connection and runs `body` with it on the connection's own thread.
    ///
    /// - Throws: What `body` throws, ``StoreError`` with code `connectionFailed` when no
    ///   connection can be made, or `poolClosed` after ``shutdown()``.
    public func withConnection<T: Sendable>(
        _ body: @Sendable @escaping (PostgresConnection) throws -> T
    ) async throws -> T {
        let pooled = try await self.acquire()
        let connectionString = self.connectionString
        let tls = self.tls
        let logger = self.logger
        do {
            let value = try await pooled.thread.run {
                try body(try pooled.usableConnection(connectionString: connectionString, tls: tls, logger: logger))
            }
            self.release(pooled)
            return value
        } catch {
            self.release(pooled)
            throw error
        }
    }

    /// Runs `body` in a transaction as `gnomon_app`, scoped to `tenantID` by row-level security.
    ///
    /// The role and the tenant last until the transaction ends, so the pooled connection
    /// returns to its login role afterwards. Every row `body` reads or writes must belong to
    /// `tenantID`: others are invisible, and writing one is refused. The pool's login role
    /// must be a member of `gnomon_app`, as the migrations make the role that runs them.
    ///
    /// - Parameters:
    ///   - tenantID: The tenant the transaction acts for.
    ///   - body: The work, run on the connection's own thread; it commits when `body`
    ///     returns and rolls back when it throws.
    /// - Throws: What `body` throws; ``StoreError`` with code `insufficientPrivilege` when the
    ///   login role cannot switch to `gnomon_app`.
    public func withTenantTransaction<T: Sendable>(
        _ tenantID: String,
        _ body: @Sendable @escaping (PostgresConnection) throws -> T
    ) async throws -> T {
        try await self.withConnection { connection in
            try connection.transaction(asRole: PostgresPool.tenantRole, tenantID: tenantID, body)
        }
    }

    /// Runs `body` in a transaction as `gnomon_scheduler`, which crosses tenants.
    ///
    /// For platform administration and the engine's loops. The role reaches every tenant's
    /// rows only in the tables whose policies grant it that, and never secrets; it lasts until
    /// the transaction ends.
    ///
    /// - Parameter body: The work, run on the connection's own thread; it commits when `body`
    ///   returns and rolls back when it throws.
    /// - Throws: What `body` throws; ``StoreError`` with code `insufficientPrivilege` when the
    ///   login role cannot switch to `gnomon_scheduler`.
    public func withPlatformTransaction<T: Sendable>(
        _ body: @Sendable @escaping (PostgresConnection) throws -> T
    ) async throws -> T {
        try await self.withConnection { connection in
            try connection.transaction(asRole: PostgresPool.platformRole, tenantID: nil, body)
        }
    }

    /// The role of tenant-scoped transactions, bound by row-level security.
    static let tenantRole = "gnomon_app"
    /// The role of platform transactions, which crosses tenants table by table.
    static let platformRole = "gnomon_scheduler"

    /// Closes idle connections and refuses new borrowers; borrowed connections close on return.
    public func shutdown() async {
        let (idle, waiters) = self.state.withLock { state in
            state.closed = true
            defer {
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters {
            waiter.resume(throwing: StoreError(.poolClosed, "the connection pool was shut down"))
        }
        for pooled in idle {
            await pooled.close()
        }
    }

    private func acquire() async throws -> PooledConnection {
        enum Next {
            case use(PooledConnection)
            case open
            case wait
            case closed
        }
        let next: Next = self.state.withLock { state in
            if state.closed {
                return .closed
            }
            if let pooled = state.idle.popLast() {
                return .use(pooled)
            }
            if state.opened < self.maximumConnections {
                state.opened += 1
                return .open
            }
            return .wait
        }
        switch next {
        case .use(let pooled):
            return pooled
        case .open:
            return PooledConnection(number: self.state.withLock { $0.opened })
        case .closed:
            throw StoreError(.poolClosed, "the connection pool was shut down")
        case .wait:
            return try await withCheckedThrowingContinuation { continuation in
                let closed = self.state.withLock { state in
                    if state.closed {
                        return true
                    }
                    // A connection may have come back between the two locks.
                    if let pooled = state.idle.popLast() {
                        continuation.resume(returning: pooled)
                    } else {
                        state.waiters.append(continuation)
                    }
                    return false
                }
                if closed {
                    continuation.resume(throwing: StoreError(.poolClosed, "the connection pool was shut down"))
                }
            }
        }
    }

    private func release(_ pooled: PooledConnection) {
        let (waiter, close): (CheckedContinuation<PooledConnection, any Error>?, Bool) = self.state.withLock { state in
            if state.closed {
                return (nil, true)
            }
            if !state.waiters.isEmpty {
                return (state.waiters.removeFirst(), false)
            }
            state.idle.append(pooled)
            return (nil, false)
        }
        if let waiter {
            waiter.resume(returning: pooled)
        } else if close {
            Task { await pooled.close() }
        }
    }
}

/// A pool slot: a thread and the connection that lives on it.
///
/// The connection is created, used and closed only on `thread`, which is what makes this
/// class safe to share although `PostgresConnection` is not `Sendable`.
final class PooledConnection: @unchecked Sendable {
    let thread: ConnectionThread
    private var connection: PostgresConnection?

    init(number: Int) {
        self.thread = ConnectionThread(name: "gnomon-postgres-\(number)")
    }

    /// The slot's connection, opened or replaced when missing or broken. Call on `thread` only.
    func usableConnection(connectionString: String, tls: PostgresTLSOptions?, logger: Logger) throws
        -> PostgresConnection
    {
        if let connection = self.connection, connection.isHealthy, !connection.isInTransaction {
            return connection
        }
        if self.connection != nil {
            logger.debug("replacing a broken or busy PostgreSQL connection")
        }
        self.connection = nil
        let connection = try PostgresConnection(connectionString: connectionString, tls: tls)
        self.connection = connection
        return connection
    }

    /// Closes the connection on its thread, then ends the thread.
    func close() async {
        _ = try? await self.thread.run { [self] in self.connection = nil }
        self.thread.stop()
    }
}
