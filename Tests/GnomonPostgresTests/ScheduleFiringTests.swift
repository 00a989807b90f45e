import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import GnomonStore
import GnomonTestSupport
import Testing

/// Schedules firing in an in-process node: every fire time once, and each overlap policy.
@Suite("Schedules firing", .serialized)
struct ScheduleFiringTests {
    private static func everySecond(_ overlap: V1.OverlapPolicy) -> V1.ScheduleSpec {
        V1.ScheduleSpec(
            expression: "* * * * * *", timeZone: "UTC",
            jobTemplate: V1.JobSpec(queue: "ticks", payloadJSON: Array(#"{"tick":true}"#.utf8)),
            overlapPolicy: overlap)
    }

    private static func create(_ id: String, _ spec: V1.ScheduleSpec, on server: AuthHarness, token: String)
        async throws
    {
        let _: V1.CreateScheduleResponse = try await server.call(
            .createSchedule, V1.CreateScheduleRequest(scheduleID: id, spec: spec), token: token)
    }

    private static func schedule(_ id: String, on server: AuthHarness, token: String) async throws -> V1.Schedule {
        let got: V1.GetScheduleResponse = try await server.call(
            .getSchedule, V1.GetScheduleRequest(scheduleID: id), token: token)
        return try #require(got.schedule)
    }

    @Test("an every-second schedule fires each second once; its jobs name the schedule and the fire time")
    func everySecondAllow() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            try await Self.create("tick", Self.everySecond(.allow), on: server, token: token)
            try await eventually(within: .seconds(30), "four fires") {
                try await server.database.fires("acme", "tick").count >= 4
            }
            let fires = try await server.database.fires("acme", "tick")
            let times = fires.map(\.fireTime)
            #expect(times == times.sorted())
            #expect(Set(times).count == times.count)
            for (earlier, later) in zip(times, times.dropFirst()) {
                #expect(
                    later.timeIntervalSince(earlier) == 1, "fire times \(earlier) and \(later) are not a second apart")
            }
            #expect(fires.allSatisfy { $0.outcome == "started" && $0.jobID != nil })
            let jobs = try await server.database.scheduleJobs("acme", "tick")
            for fire in fires {
                #expect(jobs[fire.jobID ?? ""] == fire.fireTime, "the job of the fire at \(fire.fireTime)")
            }
            let schedule = try await Self.schedule("tick", on: server, token: token)
            #expect(schedule.firedCount >= UInt64(fires.count))
            #expect(schedule.missedCount == 0)
            #expect(schedule.skippedCount == 0)
            #expect(schedule.nextFireAtUnixMs > schedule.lastFireAtUnixMs)
            #expect(!schedule.lastJobID.isEmpty)
        }
    }

    @Test("overlap skip: while the first job waits for a worker, later fires start nothing and are counted")
    func overlapSkip() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            try await Self.create("tick", Self.everySecond(.skip), on: server, token: token)
            try await eventually(within: .seconds(30), "three skipped fires") {
                try await server.database.fires("acme", "tick").count { $0.outcome == "skipped" } >= 3
            }
            let fires = try await server.database.fires("acme", "tick")
            #expect(fires.first?.outcome == "started")
            #expect(fires.count { $0.outcome == "started" } == 1)
            #expect(try await server.database.scheduleJobs("acme", "tick").count == 1)
            let schedule = try await Self.schedule("tick", on: server, token: token)
            #expect(schedule.firedCount == 1)
            #expect(schedule.skippedCount >= 3)
        }
    }

    @Test("overlap buffer-one: one fire waits, the rest are skipped; it starts as soon as the job ends")
    func overlapBufferOne() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            try await Self.create("tick", Self.everySecond(.bufferOne), on: server, token: token)
            try await eventually(within: .seconds(30), "a buffered fire and a skipped one") {
                let fires = try await server.database.fires("acme", "tick")
                return fires.contains { $0.outcome == "buffered" } && fires.contains { $0.outcome == "skipped" }
            }
            let before = try await server.database.fires("acme", "tick")
            #expect(before.count { $0.outcome == "buffered" } == 1)
            let first = try #require(before.first { $0.outcome == "started" })
            let buffered = try #require(before.first { $0.outcome == "buffered" })

            // Ending the first job releases the buffered fire at once, not at the next fire time.
            let _: V1.CancelJobResponse = try await server.call(
                .cancelJob, V1.CancelJobRequest(jobID: first.jobID ?? "", reason: "done with it"), token: token)
            try await eventually(within: .seconds(10), "the buffered fire started") {
                try await server.database.fires("acme", "tick").first { $0.fireTime == buffered.fireTime }?.outcome
                    == "started"
            }
            let released = try #require(
                try await server.database.fires("acme", "tick").first { $0.fireTime == buffered.fireTime })
            let jobs = try await server.database.scheduleJobs("acme", "tick")
            #expect(jobs[released.jobID ?? ""] == buffered.fireTime)
            let schedule = try await Self.schedule("tick", on: server, token: token)
            #expect(schedule.lastJobID == released.jobID)
            #expect(schedule.firedCount == 2)
        }
    }

    @Test("pausing drops a buffered fire: its record becomes skipped and counts; the job's end then starts nothing")
    func pauseDropsBufferedFire() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            try await Self.create("tick", Self.everySecond(.bufferOne), on: server, token: token)
            try await eventually(within: .seconds(30), "a buffered fire") {
                try await server.database.fires("acme", "tick").contains { $0.outcome == "buffered" }
            }
            let skippedBefore = try await Self.schedule("tick", on: server, token: token).skippedCount
            let _: V1.PauseScheduleResponse = try await server.call(
                .pauseSchedule, V1.PauseScheduleRequest(scheduleID: "tick", reason: "maintenance"), token: token)
            let paused = try await server.database.fires("acme", "tick")
            #expect(!paused.contains { $0.outcome == "buffered" }, "a paused schedule keeps no buffered fire")
            let schedule = try await Self.schedule("tick", on: server, token: token)
            // Fires skipped between the read above and the pause count too; the dropped one is on top.
            #expect(schedule.skippedCount >= skippedBefore + 1)
            #expect(schedule.skippedCount == UInt64(paused.count { $0.outcome == "skipped" }))

            // Ending the job that held the fire back releases nothing while paused.
            let first = try #require(paused.first { $0.outcome == "started" })
            let _: V1.CancelJobResponse = try await server.call(
                .cancelJob, V1.CancelJobRequest(jobID: first.jobID ?? "", reason: "done with it"), token: token)
            try await Task.sleep(for: .seconds(2))
            let after = try await server.database.fires("acme", "tick")
            #expect(after == paused)
            let jobs = try await server.database.scheduleJobs("acme", "tick")
            #expect(jobs.count == 1)
        }
    }

    @Test("overlap cancel-previous: each fire cancels the unfinished job of the one before")
    func overlapCancelPrevious() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            try await Self.create("tick", Self.everySecond(.cancelPrevious), on: server, token: token)
            try await eventually(within: .seconds(30), "four fires") {
                try await server.database.fires("acme", "tick").count >= 4
            }
            let live = try await server.database.withConnection { connection in
                try connection.query(
                    "SELECT count(*) AS n FROM gnomon_jobs WHERE tenant_id = 'acme' AND schedule_id = 'tick'"
                ).first?.int("n")
            }
            #expect(live == 1)
            let cancelled = try await server.database.withConnection { connection in
                try connection.query(
                    """
                    SELECT cancel_reason FROM gnomon_job_history
                    WHERE tenant_id = 'acme' AND schedule_id = 'tick' AND state = 'cancelled'
                    """
                ).rows.map { try $0.string("cancel_reason") }
            }
            #expect(cancelled.count >= 3)
            #expect(cancelled.allSatisfy { $0.contains("schedule 'tick'") })
        }
    }
}

/// A schedule's recorded fire, as the tests read it.
struct RecordedFireRow: Sendable, Hashable {
    var fireTime: Date
    var outcome: String
    var jobID: String?
}

extension TestDatabase {
    /// The fires recorded for a schedule, in fire-time order.
    func fires(_ tenantID: String, _ scheduleID: String) async throws -> [RecordedFireRow] {
        try await self.withConnection { connection in
            try connection.query(
                """
                SELECT (extract(epoch FROM fire_time) * 1000000)::bigint AS time_us, outcome, job_id
                FROM gnomon_schedule_fires WHERE tenant_id = $1 AND schedule_id = $2 ORDER BY fire_time
                """,
                [tenantID, scheduleID]
            ).rows.map { row in
                RecordedFireRow(
                    fireTime: Date(timeIntervalSince1970: Double(try row.int64("time_us")) / 1_000_000),
                    outcome: try row.string("outcome"), jobID: row["job_id"])
            }
        }
    }

    /// The fire time of every job a schedule created, live or finished, by job id.
    func scheduleJobs(_ tenantID: String, _ scheduleID: String) async throws -> [String: Date] {
        try await self.withConnection { connection in
            var jobs: [String: Date] = [:]
            for table in ["gnomon_jobs", "gnomon_job_history"] {
                for row in try connection.query(
                    """
                    SELECT id, (extract(epoch FROM fire_time) * 1000000)::bigint AS time_us FROM \(table)
                    WHERE tenant_id = $1 AND schedule_id = $2
                    """,
                    [tenantID, scheduleID]
                ).rows {
                    let id = try row.string("id")
                    #expect(jobs[id] == nil, "job \(id) is both live and finished")
                    jobs[id] = Date(timeIntervalSince1970: Double(try row.int64("time_us")) / 1_000_000)
                }
            }
            return jobs
        }
    }
}
