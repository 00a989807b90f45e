import Foundation
import GnomonStore
import GnomonTestSupport
import Synchronization
import Testing

/// A fire time of a schedule fires once, whoever tries and however often.
@Suite("Schedule fires")
struct ScheduleFireStoreTests {
    private static let shard = 3

    /// A fire time this second: fires are partitioned by day around now.
    private static func now() -> Date {
        Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
    }

    private static func prepare(_ connection: PostgresConnection) throws -> JobStore {
        try connection.query("INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme')")
        try connection.query(
            """
            INSERT INTO gnomon_schedules (tenant_id, schedule_id, shard, expression, job_template)
            VALUES ('acme', 'nightly', $1, '@daily', '{}')
            """,
            [Self.shard]
        )
        return try JobStore.load(on: connection)
    }

    private static func record(
        _ lease: ShardLease,
        node: String,
        fireTime: Date,
        store: JobStore,
        on connection: PostgresConnection
    ) throws -> RecordedFire? {
        try ScheduleFireStore.record(
            tenantID: "acme",
            scheduleID: "nightly",
            lease: lease,
            node: node,
            fireTime: fireTime,
            fireAt: fireTime,
            outcome: .started,
            job: NewJob(queue: "reports", scheduleID: "nightly", fireTime: fireTime),
            nextFireAt: fireTime.addingTimeInterval(86_400),
            store: store,
            on: connection
        )
    }

    @Test("recording the same fire again creates no second job")
    func onceSequentially() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                let store = try Self.prepare(connection)
                let lease = try #require(
                    try ShardLeaseStore.acquire(shard: Self.shard, node: "n1", duration: .seconds(30), on: connection))
                let fireTime = Self.now()
                let first = try Self.record(lease, node: "n1", fireTime: fireTime, store: store, on: connection)
                #expect(first?.job?.created == true)
                #expect(try Self.record(lease, node: "n1", fireTime: fireTime, store: store, on: connection) == nil)

                let jobs = try connection.query("SELECT count(*) AS n FROM gnomon_jobs WHERE schedule_id = 'nightly'")
                #expect(try jobs.first?.int("n") == 1)
                let schedule = try connection.query(
                    "SELECT last_job_id, extract(epoch FROM next_fire_at)::bigint AS next FROM gnomon_schedules"
                ).first
                #expect(schedule?["last_job_id"] == first?.job?.id.uuidString.lowercased())
                #expect(try schedule?.int64("next") == Int64(fireTime.timeIntervalSince1970) + 86_400)
            }
        }
    }

    @Test("eight racing attempts at one fire create exactly one job")
    func onceUnderRace() async throws {
        try await TestDatabase.with { database in
            let lease = try await database.withConnection { connection in
                _ = try Self.prepare(connection)
                return try #require(
                    try ShardLeaseStore.acquire(shard: Self.shard, node: "n1", duration: .seconds(30), on: connection))
            }
            let fireTime = Self.now()
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await database.withConnection { connection in
                            let store = try JobStore.load(on: connection)
                            return try Self.record(lease, node: "n1", fireTime: fireTime, store: store, on: connection)
                                != nil
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            let jobs = try await database.withConnection { connection in
                try connection.query("SELECT count(*) AS n FROM gnomon_jobs").first?.int("n")
            }
            #expect(jobs == 1)
        }
    }

    @Test("after failover the old owner records nothing and the new one records each fire once")
    func fencedAfterFailover() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                let store = try Self.prepare(connection)
                let old = try #require(
                    try ShardLeaseStore.acquire(
                        shard: Self.shard, node: "n1", duration: .milliseconds(20), on: connection))
                usleep(50_000)
                let new = try #require(
                    try ShardLeaseStore.acquire(shard: Self.shard, node: "n2", duration: .seconds(30), on: connection))
                let fireTime = Self.now()

                #expect(try Self.record(old, node: "n1", fireTime: fireTime, store: store, on: connection) == nil)
                #expect(try Self.record(new, node: "n2", fireTime: fireTime, store: store, on: connection) != nil)
                #expect(try Self.record(new, node: "n2", fireTime: fireTime, store: store, on: connection) == nil)
                let fires = try connection.query("SELECT count(*) AS n FROM gnomon_schedule_fires")
                #expect(try fires.first?.int("n") == 1)
            }
        }
    }
}
