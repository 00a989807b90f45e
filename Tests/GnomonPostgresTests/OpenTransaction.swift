import Dispatch
import GnomonStore
import GnomonTestSupport

/// A transaction of the test's own, kept open on a thread of its own while the test does
/// other things: it takes row locks when opened and releases them when closed.
///
/// For making a race happen on purpose: a server's statement that needs the rows waits for
/// them, and the test decides what the rows look like when the wait ends.
final class OpenTransaction: @unchecked Sendable {
    // Each semaphore is signalled once and waited on once, by the transaction's thread and
    // by the test: the thread blocks on them, never a thread of Swift's cooperative pool.
    private let closing: DispatchSemaphore
    private let done: Task<Void, any Error>

    /// Connects as superuser, begins a transaction and runs `sql` in it.
    ///
    /// - Parameters:
    ///   - database: The database.
    ///   - sql: A statement taking locks, such as `SELECT … FOR UPDATE`.
    ///   - parameters: The parameters of both statements.
    ///   - closingSQL: A statement run just before the commit, if any.
    init(_ database: TestDatabase, _ sql: String, _ parameters: [String] = [], closingWith closingSQL: String = "")
        async throws
    {
        let connectionString = database.connectionString
        let (opened, closing) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        self.closing = closing
        self.done = Task {
            try await TestDatabase.onThread {
                let connection: PostgresConnection
                do {
                    connection = try PostgresConnection(connectionString: connectionString)
                    try connection.execute(script: "BEGIN")
                    try connection.query(sql, parameters)
                } catch {
                    opened.signal()
                    throw error
                }
                opened.signal()
                closing.wait()
                if !closingSQL.isEmpty {
                    try connection.query(closingSQL, parameters)
                }
                try connection.execute(script: "COMMIT")
            }
        }
        try await TestDatabase.onThread { opened.wait() }
    }

    deinit {
        // Never closed, as when the test failed first: commit rather than block the thread.
        self.closing.signal()
    }

    /// Runs the closing statement, if any, then commits.
    func close() async throws {
        self.closing.signal()
        try await self.done.value
    }
}
