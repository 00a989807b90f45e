import Foundation
import GnomonStore
import Synchronization

/// What PostgreSQL spent a phase on: its busiest statements and what its backends waited for.
///
/// Statements come from `pg_stat_statements`, reset when a phase begins. Waits come from a
/// thread that reads `pg_stat_activity` every 10 ms and counts, for every backend of the server
/// under test, whether it was running (on the CPU or waiting on a lock or I/O) or idle inside a
/// transaction, which means it waited for `gnomond` to send the transaction's next statement.
final class DatabaseProfile: Sendable {
    /// The server settings the profile needs: the statement statistics loaded at start.
    static let settings = [
        "shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.max": "1000",
        "pg_stat_statements.track_planning": "on",
    ]
    /// How often the sampler looks at the backends.
    static let interval: Duration = .milliseconds(10)

    /// Backends seen in one state, over the samples of a phase.
    struct Waits: Sendable {
        /// Samples taken.
        var samples = 0
        /// Backend sightings by what the backend was doing, such as `Lock:transactionid`.
        var counts: [String: Int] = [:]
    }

    private let connectionString: String
    private let waits = Mutex(Waits())
    private let stopping = Atomic<Bool>(false)

    private init(connectionString: String) {
        self.connectionString = connectionString
    }

    /// Creates the extension and starts sampling on a thread of its own.
    ///
    /// - Parameter connectionString: The cluster's superuser, in the server's database.
    /// - Throws: ``StoreError`` when the extension cannot be created.
    static func start(connectionString: String) async throws -> DatabaseProfile {
        try await BlockingThread.run(name: "gnomon-bench profile") {
            let connection = try PostgresConnection(connectionString: connectionString)
            try connection.execute(script: "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        }
        let profile = DatabaseProfile(connectionString: connectionString)
        let sampler = Thread { profile.sampleUntilStopped() }
        sampler.name = "gnomon-bench sampler"
        sampler.start()
        return profile
    }

    /// Stops the sampler.
    func stop() {
        self.stopping.store(true, ordering: .releasing)
    }

    /// Forgets the statements and waits seen so far, at the start of a phase.
    func reset() async {
        self.waits.withLock { $0 = Waits() }
        let connectionString = self.connectionString
        _ = try? await BlockingThread.run(name: "gnomon-bench profile") {
            let connection = try PostgresConnection(connectionString: connectionString)
            try connection.execute(script: "SELECT pg_stat_statements_reset()")
        }
    }

    /// What the database did since ``reset()``, as Markdown: the waits, then the statements.
    ///
    /// - Parameter phase: The phase's name, for the lines' headings.
    func summary(of phase: String) async -> String {
        let waits = self.waits.withLock { $0 }
        let connectionString = self.connectionString
        let statements =
            (try? await BlockingThread.run(name: "gnomon-bench profile") {
                try Self.topStatements(connectionString: connectionString)
            }) ?? []
        return Self.describe(phase: phase, waits: waits, statements: statements)
    }

    private func sampleUntilStopped() {
        while !self.stopping.load(ordering: .acquiring) {
            do {
                let connection = try PostgresConnection(connectionString: self.connectionString)
                while !self.stopping.load(ordering: .acquiring) {
                    let rows = try connection.query(Self.activitySQL).rows
                    self.waits.withLock { waits in
                        waits.samples += 1
                        for row in rows {
                            waits.counts[row[0] ?? "?", default: 0] += 1
                        }
                    }
                    Thread.sleep(forTimeInterval: Self.interval.seconds)
                }
            } catch {
                // The cluster is going away at the end of the run, or the connection broke: try again.
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    /// Each client backend but this one that is in a transaction, by what it is doing.
    private static let activitySQL = """
        SELECT CASE
            WHEN state = 'active' THEN coalesce(wait_event_type || ':' || wait_event, 'running')
            WHEN state LIKE 'idle in transaction%' THEN 'idle in transaction'
        END
        FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
            AND (state = 'active' OR state LIKE 'idle in transaction%')
            AND query NOT LIKE '%pg_stat_%'
        """

    private struct Statement {
        var query: String
        var calls: Int
        var totalMilliseconds: Double
        var planMilliseconds: Double
        /// How many times it was planned: as often as it ran when no plan was reused.
        var plans: Int
        var rows: Int
    }

    private static func topStatements(connectionString: String) throws -> [Statement] {
        let connection = try PostgresConnection(connectionString: connectionString)
        return try connection.query(
            """
            SELECT query, calls, total_exec_time, total_plan_time, plans, rows FROM pg_stat_statements
            WHERE query NOT LIKE '%pg_stat_%'
            ORDER BY total_exec_time + total_plan_time DESC LIMIT 10
            """
        ).rows.map { row in
            Statement(
                query: try row.string("query"), calls: try row.int("calls"),
                totalMilliseconds: Double(try row.string("total_exec_time")) ?? 0,
                planMilliseconds: Double(try row.string("total_plan_time")) ?? 0, plans: try row.int("plans"),
                rows: try row.int("rows"))
        }
    }

    private static func describe(phase: String, waits: Waits, statements: [Statement]) -> String {
        let samples = max(waits.samples, 1)
        let busy = waits.counts.sorted { $0.value > $1.value }
        let total = waits.counts.values.reduce(0, +)
        let activity = busy.prefix(6).map { name, count in
            "`\(name)` " + String(format: "%.2f", Double(count) / Double(samples))
        }
        let average = String(format: "%.2f", Double(total) / Double(samples))
        var lines = [
            "**\(phase)**: backends in a transaction, on average \(average) over \(formatCount(waits.samples)) "
                + "samples: " + activity.joined(separator: ", ") + ".",
            "",
            "| statement | calls | executing | mean | planning | plans | rows |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for statement in statements {
            let text = statement.query.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            let short = text.count > 90 ? String(text.prefix(90)) + "…" : text
            let mean = statement.totalMilliseconds / Double(max(statement.calls, 1))
            lines.append(
                "| `\(short.replacingOccurrences(of: "|", with: "\\|"))` | \(formatCount(statement.calls)) | "
                    + String(
                        format: "%.0f ms | %.3f ms | %.0f ms", statement.totalMilliseconds, mean,
                        statement.planMilliseconds)
                    + " | \(formatCount(statement.plans)) | \(formatCount(statement.rows)) |")
        }
        return lines.joined(separator: "\n")
    }
}
