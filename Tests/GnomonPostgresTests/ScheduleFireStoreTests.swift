import Foundation
import GnomonCore
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

    /// Fires the shard's due schedules: each at its stored next fire time, once, starting a job.
    private static func record(
        _ lease: ShardLease,
        node: String,
        fireTime: Date,
        store: JobStore,
        on connection: PostgresConnection
    ) throws -> FirePass? {
        try connection.transaction { connection in
            try connection.query(
                "UPDATE gnomon_schedules SET next_fire_at = $1::timestamptz, next_due_at = $1::timestamptz - interval '1 second'",
                [fireTime])
            let pass = try ScheduleFireStore.fireDue(
                lease: lease, node: node, limit: 10, store: store,
                plan: { schedule, _ in
                    var plan = ScheduleFirePlan()
                    plan.fires = [ScheduleFirePlan.Fire(time: fireTime, dueAt: fireTime, action: .start)]
                    plan.nextFireTime = fireTime.addingTimeInterval(86_400)
                    plan.nextDueAt = plan.nextFireTime
                    #expect(schedule.record.scheduleID == "nightly")
                    return plan
                },
                job: { schedule, time, _ in NewJob(queue: "reports", scheduleID: schedule.scheduleID, fireTime: time) },
                on: connection)
            return pass.leaseHeld && pass.started == 1 ? pass : nil
        }
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
                #expect(first?.startedQueues == [FirePass.TenantQueue(tenantID: "acme", queue: "reports")])
                let again = try Self.record(lease, node: "n1", fireTime: fireTime, store: store, on: connection)
                #expect(again == nil)

                let jobs = try connection.query("SELECT count(*) AS n FROM gnomon_jobs WHERE schedule_id = 'nightly'")
                #expect(try jobs.first?.int("n") == 1)
                let schedule = try connection.query(
                    "SELECT last_job_id, extract(epoch FROM next_fire_at)::bigint AS next FROM gnomon_schedules"
                ).first
                let job = try connection.query("SELECT id FROM gnomon_jobs WHERE schedule_id = 'nightly'").first
                #expect(schedule?["last_job_id"] == job?["id"])
                let fire = try connection.query("SELECT job_id, outcome FROM gnomon_schedule_fires").first
                #expect(fire?["job_id"] == job?["id"])
                #expect(fire?["outcome"] == "started")
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
