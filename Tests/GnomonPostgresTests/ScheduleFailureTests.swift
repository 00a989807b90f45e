import Foundation
import Glibc
import GnomonAuth
import GnomonProtocol
import GnomonStore
import GnomonTestSupport
import Testing

/// Every-second schedules across real `gnomond` processes that are killed, paused and
/// restarted: each fire time recorded once, and none missed beyond the catch-up policy.
@Suite("Schedules across gnomond failures", .serialized)
struct ScheduleFailureTests {
    private static let tenant = "acme"

    private static func everySecond(_ catchUp: V1.CatchUpPolicy, limit: UInt32 = 0) -> V1.ScheduleSpec {
        V1.ScheduleSpec(
            expression: "* * * * * *", timeZone: "UTC",
            jobTemplate: V1.JobSpec(queue: "ticks", payloadJSON: Array(#"{}"#.utf8)),
            catchUpPolicy: catchUp, catchUpLimit: limit, overlapPolicy: .allow)
    }

    private static func create(
        _ schedules: [(String, V1.ScheduleSpec)], cluster: GnomondCluster, through node: String
    ) async throws {
        let token = try cluster.token(Self.tenant, [.operator])
        for (id, spec) in schedules {
            let _: V1.CreateScheduleResponse = try await cluster.node(node).channel.call(
                .createSchedule, V1.CreateScheduleRequest(scheduleID: id, spec: spec), token: token)
        }
    }

    /// What a schedule recorded: its fire times, the fire times between its first and last
    /// that have no record, and its counts.
    private struct Outcome {
        var fires: [RecordedFireRow]
        var gaps: [Date]
        var missed: Int64
        var caughtUp: Int64
        var fired: Int64
    }

    private static func outcome(_ id: String, _ database: TestDatabase) async throws -> Outcome {
        let fires = try await database.fires(Self.tenant, id)
        var gaps: [Date] = []
        if let first = fires.first?.fireTime, let last = fires.last?.fireTime {
            let recorded = Set(fires.map(\.fireTime))
            var time = first
            while time < last {
                if !recorded.contains(time) {
                    gaps.append(time)
                }
                time.addTimeInterval(1)
            }
        }
        let counts = try await database.withConnection { connection in
            try connection.query(
                """
                SELECT missed_count, caught_up_count, fired_count FROM gnomon_schedules
                WHERE tenant_id = $1 AND schedule_id = $2
                """,
                [Self.tenant, id]
            ).first
        }
        return Outcome(
            fires: fires, gaps: gaps, missed: try counts?.int64("missed_count") ?? -1,
            caughtUp: try counts?.int64("caught_up_count") ?? -1, fired: try counts?.int64("fired_count") ?? -1)
    }

    /// Every fire started one job, and no fire time has two.
    private static func expectOneJobPerFire(_ id: String, _ outcome: Outcome, _ database: TestDatabase) async throws {
        let jobs = try await database.scheduleJobs(Self.tenant, id)
        #expect(jobs.count == outcome.fires.count, "\(id): \(jobs.count) jobs for \(outcome.fires.count) fires")
        #expect(Set(jobs.values).count == jobs.count, "\(id): a fire time has two jobs")
        #expect(outcome.fires.allSatisfy { $0.outcome == "started" && jobs[$0.jobID ?? ""] == $0.fireTime })
        #expect(outcome.fired == Int64(outcome.fires.count), "\(id): fired_count \(outcome.fired)")
    }

    @Test("the whole cluster down across fire times: each catch-up policy runs what it declares, and no more")
    func wholeClusterDown() async throws {
        try await TestDatabase.with { database in
            try await GnomondCluster.with(
                database: database, nodes: ["a", "b"], extraArguments: ["--misfire-threshold", "2s"]
            ) { cluster in
                try await eventually(within: .seconds(30), "8 shards each") {
                    try await database.currentOwners() == ["a": 8, "b": 8]
                }
                try await cluster.createTenant(Self.tenant, through: "a")
                let schedules = [
                    ("skip", Self.everySecond(.skip)), ("latest", Self.everySecond(.latest)),
                    ("all", Self.everySecond(.all)), ("all-2", Self.everySecond(.all, limit: 2)),
                ]
                try await Self.create(schedules, cluster: cluster, through: "a")
                try await eventually(within: .seconds(30), "every schedule fired twice") {
                    for (id, _) in schedules where try await database.fires(Self.tenant, id).count < 2 {
                        return false
                    }
                    return true
                }

                // Both nodes die at once; only a comes back, so that no rebalancing follows.
                for name in ["a", "b"] {
                    cluster.node(name).process.child.send(SIGKILL)
                    _ = try await cluster.node(name).process.waitForExit()
                }
                try await Task.sleep(for: .seconds(7))
                let restartedAt = Date()
                try await cluster.restart(["a"])
                try await eventually(within: .seconds(30), "every schedule fired again after the restart") {
                    for (id, _) in schedules {
                        let last = try await database.fires(Self.tenant, id).last?.fireTime ?? .distantPast
                        if last < restartedAt.addingTimeInterval(3) {
                            return false
                        }
                    }
                    return true
                }

                // The schedules keep firing while a runs: stop it, so that what is read is final.
                try await Self.killAll(["a"], cluster)
                let skip = try await Self.outcome("skip", database)
                #expect(skip.gaps.count >= 5, "skip left gaps \(skip.gaps)")
                #expect(skip.caughtUp == 0)
                #expect(skip.missed == Int64(skip.gaps.count))

                let latest = try await Self.outcome("latest", database)
                #expect(latest.gaps.count >= 4, "latest left gaps \(latest.gaps)")
                #expect(latest.caughtUp >= 1)
                #expect(latest.missed == Int64(latest.gaps.count))

                let all = try await Self.outcome("all", database)
                #expect(all.gaps.isEmpty, "all left gaps \(all.gaps)")
                #expect(all.caughtUp >= 5)
                #expect(all.missed == 0)

                let allTwo = try await Self.outcome("all-2", database)
                #expect(allTwo.caughtUp >= 2)
                #expect(allTwo.gaps.count >= 3)
                #expect(allTwo.missed == Int64(allTwo.gaps.count))

                for (id, _) in schedules {
                    try await Self.expectOneJobPerFire(id, try await Self.outcome(id, database), database)
                }
            }
        }
    }

    @Test("3 nodes killed, restarted and paused for a minute: every fire time recorded once, none missed")
    func chaos() async throws {
        try await TestDatabase.with { database in
            try await GnomondCluster.with(database: database, nodes: ["a", "b", "c"]) { cluster in
                try await eventually(within: .seconds(30), "a, b and c share the 16 shards") {
                    try await database.currentOwners().count == 3
                }
                try await cluster.createTenant(Self.tenant, through: "a")
                // Several schedules, so that their shards spread over the nodes.
                let ids = (0..<6).map { "tick-\($0)" }
                try await Self.create(ids.map { ($0, Self.everySecond(.all)) }, cluster: cluster, through: "a")
                let start = ContinuousClock.now

                // kill -9 of the owner of tick-0's shard, restarted 8 s later.
                let victim = try await Self.owner(of: "tick-0", database)
                try await Task.sleep(until: start + .seconds(5))
                cluster.node(victim).process.child.send(SIGKILL)
                _ = try await cluster.node(victim).process.waitForExit()
                try await Task.sleep(until: start + .seconds(13))
                try await cluster.restart([victim])

                // SIGSTOP of tick-1's owner past its leases, continued 6 s later.
                try await Task.sleep(until: start + .seconds(22))
                let paused = try await Self.owner(of: "tick-1", database)
                cluster.node(paused).process.child.send(SIGSTOP)
                try await Task.sleep(until: start + .seconds(28))
                cluster.node(paused).process.child.send(SIGCONT)

                // Another kill -9, of whoever owns tick-2's shard now, restarted at once.
                try await Task.sleep(until: start + .seconds(38))
                let second = try await Self.owner(of: "tick-2", database)
                cluster.node(second).process.child.send(SIGKILL)
                _ = try await cluster.node(second).process.waitForExit()
                try await cluster.restart([second])

                try await Task.sleep(until: start + .seconds(60))
                let end = Date()
                try await eventually(within: .seconds(30), "every schedule fired after the last failure") {
                    for id in ids where try await database.fires(Self.tenant, id).last?.fireTime ?? .distantPast < end {
                        return false
                    }
                    return true
                }
                try await Self.killAll(["a", "b", "c"], cluster)
                for id in ids {
                    let outcome = try await Self.outcome(id, database)
                    #expect(outcome.fires.count >= 55, "\(id) fired \(outcome.fires.count) times in a minute")
                    #expect(outcome.gaps.isEmpty, "\(id) missed \(outcome.gaps)")
                    #expect(outcome.missed == 0)
                    try await Self.expectOneJobPerFire(id, outcome, database)
                }
            }
        }
    }

    /// Kills the nodes that still run, and waits for them to exit.
    private static func killAll(_ names: [String], _ cluster: GnomondCluster) async throws {
        for name in names where GnomondNode.isRunning(cluster.node(name).process) {
            cluster.node(name).process.child.send(SIGCONT)
            cluster.node(name).process.child.send(SIGKILL)
            _ = try await cluster.node(name).process.waitForExit()
        }
    }

    /// The node that holds the lease of a schedule's shard now.
    private static func owner(of scheduleID: String, _ database: TestDatabase) async throws -> String {
        try await database.withConnection { connection in
            let row = try connection.query(
                """
                SELECT l.owner_node FROM gnomon_schedules s JOIN gnomon_shard_leases l ON l.shard = s.shard
                WHERE s.tenant_id = $1 AND s.schedule_id = $2
                """,
                [Self.tenant, scheduleID]
            ).first
            return try row?.string("owner_node") ?? ""
        }
    }
}
