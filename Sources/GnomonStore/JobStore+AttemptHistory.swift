public import Foundation
import GnomonCore

/// The attempt of a job that is running now, as its live row describes it.
public struct RunningAttempt: Sendable, Hashable {
    /// 1 for the first attempt.
    public var number: Int
    /// The worker that leased it; empty when none was recorded.
    public var workerID: String
    public var startedAt: Date

    /// Creates a running attempt.
    public init(number: Int, workerID: String, startedAt: Date) {
        self.number = number
        self.workerID = workerID
        self.startedAt = startedAt
    }
}

extension JobStore {
    /// The most finished attempts ``attempts(of:on:)`` returns: the latest ones.
    public static let maximumAttemptHistory = 1_000

    /// A job's attempts, oldest first: the finished ones, and the running one if any.
    ///
    /// Attempt numbers start again at 1 when a job is retried with its attempts reset, so
    /// the order is by start time, not by number. A job with more finished attempts than
    /// ``maximumAttemptHistory`` gives its latest ones.
    ///
    /// - Parameters:
    ///   - id: The job.
    ///   - connection: A tenant's transaction, which sees only that tenant's attempts, or a
    ///     platform one.
    /// - Returns: The finished attempts, oldest first, and the running attempt.
    public func attempts(
        of id: UUID,
        on connection: PostgresConnection
    ) throws -> (finished: [JobAttempt], running: RunningAttempt?) {
        let finished = try connection.query(Self.finishedAttemptsSQL, [id, Self.maximumAttemptHistory]).rows
            .reversed()
            .map { try Self.attempt(from: $0) }
        let running = try connection.query(Self.runningAttemptSQL, [self.shard(of: id), id]).first.map { row in
            RunningAttempt(
                number: try row.int("attempts"),
                workerID: row["worker_id"] ?? "",
                startedAt: try row.date(microseconds: "started_us"))
        }
        return (finished, running)
    }

    private static func attempt(from row: PostgresRow) throws -> JobAttempt {
        let outcomeText = try row.string("outcome")
        guard let outcome = AttemptOutcome(rawValue: outcomeText) else {
            throw StoreError(
                .unexpectedValue, "column 'outcome' holds '\(outcomeText)'; expected an attempt outcome")
        }
        return JobAttempt(
            number: try row.int("number"),
            outcome: outcome,
            workerID: try row.string("worker_id"),
            startedAt: try row.date(microseconds: "started_us"),
            finishedAt: try row.date(microseconds: "finished_us"),
            errorMessage: row["error_message"],
            httpStatus: try row["http_status"].map { _ in try row.int("http_status") })
    }

    /// The latest attempts first, so that the limit keeps the latest; the caller reverses them.
    private static let finishedAttemptsSQL = """
        SELECT number, outcome, worker_id, error_message, http_status,
            (extract(epoch FROM started_at) * 1000000)::bigint AS started_us,
            (extract(epoch FROM finished_at) * 1000000)::bigint AS finished_us
        FROM gnomon_job_attempts
        WHERE job_id = $1
        ORDER BY started_at DESC, finished_at DESC
        LIMIT $2
        """

    private static let runningAttemptSQL = """
        SELECT attempts, worker_id, (extract(epoch FROM attempt_started_at) * 1000000)::bigint AS started_us
        FROM gnomon_jobs
        WHERE shard = $1 AND id = $2 AND state = 'running'
        """
}
