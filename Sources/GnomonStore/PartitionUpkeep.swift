public import Foundation

/// Keeps the time-partitioned tables ahead of time and drops what retention lets go.
///
/// Job history, attempts and schedule fires are partitioned by day, the audit log by month,
/// all in UTC. The upkeep leader runs this regularly; it is idempotent, and runs on several
/// nodes at once take turns, so the second finds nothing left to do.
public enum PartitionUpkeep {
    /// What one run created and dropped.
    public struct Report: Sendable, Hashable {
        /// The partitions created, such as `gnomon_job_history_20300118`, in the order created.
        public var created: [String]
        /// The partitions dropped with all their rows, in the order dropped.
        public var dropped: [String]

        /// Creates a report.
        public init(created: [String] = [], dropped: [String] = []) {
            self.created = created
            self.dropped = dropped
        }

        /// Whether the run found nothing to do.
        public var isEmpty: Bool {
            self.created.isEmpty && self.dropped.isEmpty
        }
    }

    /// Creates the partitions from yesterday to ahead of `now`, and drops the expired ones.
    ///
    /// A partition is dropped, with all its rows, once its whole period ended at least the
    /// retention before `now`.
    ///
    /// - Parameters:
    ///   - connection: A connection as the schema owner or `gnomon_scheduler`.
    ///   - now: The instant to work from; the leader passes the current time.
    ///   - retention: How long finished jobs, attempts and schedule fires are kept; at least a day.
    ///   - daysAhead: How many days' partitions exist beyond today.
    ///   - auditRetention: How long audit records are kept; at least a day.
    ///   - monthsAhead: How many months' audit partitions exist beyond this month.
    /// - Returns: What was created and dropped; empty when everything was already in place.
    /// - Throws: ``StoreError`` with code `queryFailed`; SQLSTATE 22023 for a retention or count
    ///   out of range, 55P03 when a partition stayed locked by other work for 10 seconds.
    public static func run(
        on connection: PostgresConnection,
        now: Date,
        retention: Duration = .seconds(14 * 86_400),
        daysAhead: Int = 3,
        auditRetention: Duration = .seconds(365 * 86_400),
        monthsAhead: Int = 2
    ) throws -> Report {
        let result = try connection.query(
            """
            SELECT action, partition_name
            FROM gnomon_maintain_partitions($1::timestamptz, $2::interval, $3, $4::interval, $5)
            """,
            [now, self.interval(retention), daysAhead, self.interval(auditRetention), monthsAhead]
        )
        var report = Report()
        for row in result.rows {
            let name = try row.string("partition_name")
            if try row.string("action") == "created" {
                report.created.append(name)
            } else {
                report.dropped.append(name)
            }
        }
        return report
    }

    /// An interval literal PostgreSQL reads exactly: the duration in whole microseconds.
    static func interval(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return "\(seconds * 1_000_000 + attoseconds / 1_000_000_000_000) microseconds"
    }
}
