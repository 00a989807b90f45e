import Foundation
import GnomonTestSupport
import Testing

@testable import GnomonStore

@Suite("Partition upkeep")
struct PartitionUpkeepTests {
    /// A fixed instant far from the real clock, so that nothing the migrations created for
    /// today stands in the way.
    static let base = Date(timeIntervalSince1970: 1_894_708_800)  // 2030-01-15T12:00:00Z
    static let day: TimeInterval = 86_400

    @Test("creates each daily table's partitions from yesterday to three days ahead, audit's monthly")
    func createsAhead() async throws {
        try await TestDatabase.with { database in
            let report = try await database.withConnection { try PartitionUpkeep.run(on: $0, now: Self.base) }
            for table in ["gnomon_job_history", "gnomon_job_attempts", "gnomon_schedule_fires"] {
                let days = report.created.filter { $0.hasPrefix(table + "_") }
                #expect(days == (14...18).map { "\(table)_203001\($0)" })
            }
            let months = report.created.filter { $0.hasPrefix("gnomon_audit_log_") }
            #expect(months == ["gnomon_audit_log_203001", "gnomon_audit_log_203002", "gnomon_audit_log_203003"])

            let existing = try await Self.partitions(of: "gnomon_job_history", in: database)
            #expect(
                existing.filter { $0.hasPrefix("gnomon_job_history_2030") }
                    == (14...18).map { "gnomon_job_history_203001\($0)" })
        }
    }

    @Test("drops the partitions whose whole day is older than the retention, with their rows")
    func dropsExpired() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                _ = try PartitionUpkeep.run(on: connection, now: Self.base)
                for finished in ["2030-01-14T08:00:00Z", "2030-01-16T08:00:00Z"] {
                    try connection.query(Self.insertHistory, [finished])
                }
            }
            let later = Self.base.addingTimeInterval(15 * Self.day)
            let report = try await database.withConnection { try PartitionUpkeep.run(on: $0, now: later) }
            #expect(report.dropped.contains("gnomon_job_history_20300114"))
            #expect(report.dropped.contains("gnomon_job_history_20300115"))
            #expect(report.dropped.contains("gnomon_job_attempts_20300115"))
            #expect(!report.dropped.contains("gnomon_job_history_20300116"))
            #expect(report.created.contains("gnomon_job_history_20300202"))

            let remaining = try await database.withConnection { connection in
                try connection.query("SELECT finished_at FROM gnomon_job_history").rows.map {
                    try $0.string("finished_at")
                }
            }
            #expect(remaining.count == 1)
            #expect(remaining.first?.hasPrefix("2030-01-16 08:00:00") == true)
        }
    }

    @Test("a shorter retention and a longer look-ahead are honoured")
    func customWindow() async throws {
        try await TestDatabase.with { database in
            let reports = try await database.withConnection { connection in
                try [
                    PartitionUpkeep.run(on: connection, now: Self.base, daysAhead: 7),
                    PartitionUpkeep.run(on: connection, now: Self.base + 3 * Self.day, retention: .seconds(2 * 86_400)),
                ]
            }
            let created = reports[0].created.filter { $0.hasPrefix("gnomon_job_history_") }
            #expect(created.first == "gnomon_job_history_20300114")
            #expect(created.last == "gnomon_job_history_20300122")
            let dropped = reports[1].dropped.filter { $0.hasPrefix("gnomon_job_history_2030") }
            #expect(dropped == ["gnomon_job_history_20300114", "gnomon_job_history_20300115"])
        }
    }

    @Test("audit partitions are monthly and kept for the audit retention")
    func auditMonths() async throws {
        try await TestDatabase.with { database in
            _ = try await database.withConnection { try PartitionUpkeep.run(on: $0, now: Self.base) }
            let later = Self.base.addingTimeInterval(400 * Self.day)
            let report = try await database.withConnection { try PartitionUpkeep.run(on: $0, now: later) }
            #expect(report.dropped.contains("gnomon_audit_log_203001"))
            #expect(!report.dropped.contains("gnomon_audit_log_203002"))
            #expect(report.created.contains("gnomon_audit_log_203104"))
        }
    }

    @Test("running again with the same instant changes nothing")
    func idempotent() async throws {
        try await TestDatabase.with { database in
            let reports = try await database.withConnection { connection in
                [
                    try PartitionUpkeep.run(on: connection, now: Self.base),
                    try PartitionUpkeep.run(on: connection, now: Self.base),
                ]
            }
            #expect(!reports[0].isEmpty)
            #expect(reports[1].isEmpty)
        }
    }

    @Test("two nodes running upkeep at once both succeed, and the work is done once")
    func concurrentRuns() async throws {
        try await TestDatabase.with { database in
            // Both runs are held at the upkeep lock until both wait there, so they really overlap.
            let gate = try PostgresConnection(connectionString: database.connectionString)
            try gate.query("SELECT pg_advisory_lock($1)", [Self.upkeepLockKey])
            async let first = database.withConnection { try PartitionUpkeep.run(on: $0, now: Self.base) }
            async let second = database.withConnection { try PartitionUpkeep.run(on: $0, now: Self.base) }
            try await Self.waitUntilWaiting(2, on: gate)
            try gate.query("SELECT pg_advisory_unlock($1)", [Self.upkeepLockKey])
            let reports = try await [first, second]

            #expect(reports.filter(\.isEmpty).count == 1)
            let created = reports.flatMap(\.created)
            #expect(Set(created).count == created.count)
            #expect(created.contains("gnomon_job_history_20300118"))
        }
    }

    @Test("a retention under a day is refused with the values given")
    func shortRetention() async throws {
        try await TestDatabase.with { database in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection {
                    try PartitionUpkeep.run(on: $0, now: Self.base, retention: .seconds(3_600))
                }
            }
            #expect(error?.sqlState == "22023")
            #expect(error?.message.contains("at least one day") == true)
        }
    }

    @Test("the scheduler role may run upkeep")
    func schedulerRuns() async throws {
        try await TestDatabase.with { database in
            let report = try await database.withConnection { connection in
                try connection.execute(script: "SET ROLE gnomon_scheduler")
                return try PartitionUpkeep.run(on: connection, now: Self.base)
            }
            #expect(!report.created.isEmpty)
        }
    }

    static let insertHistory = """
        INSERT INTO gnomon_job_history (
            id, tenant_id, shard, queue, job_type, state, priority, payload, labels, run_at, attempts,
            max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier, backoff_jitter,
            attempt_timeout_ms, created_at, finished_at
        ) VALUES (
            gen_random_uuid(), 'acme', 0, 'mail', '', 'succeeded', 0, '{}', '{}', $1, 1,
            25, 1000, 3600000, 2, 0.2, 300000, $1, $1
        )
        """

    /// The key of the transaction lock gnomon_maintain_partitions takes: "gnomon" then 0002.
    static let upkeepLockKey: Int64 = 0x676e_6f6d_6f6e_0002

    /// Returns once `count` sessions wait for the upkeep lock; throws after five seconds.
    static func waitUntilWaiting(_ count: Int, on connection: PostgresConnection) async throws {
        for _ in 0..<500 {
            let waiting = try connection.query(
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1",
                [Self.upkeepLockKey & 0xffff_ffff]
            ).first?.int("n")
            if waiting == count {
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        struct NotWaiting: Error {}
        throw NotWaiting()
    }

    /// The names of the partitions of `table`, in name order.
    static func partitions(of table: String, in database: TestDatabase) async throws -> [String] {
        try await database.withConnection { connection in
            try connection.query(
                """
                SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = $1::regclass ORDER BY 1
                """,
                [table]
            ).rows.map { try $0.string("name") }
        }
    }
}
