import Foundation
import GnomonNetwork
import GnomonProtocol
import GnomonStore

extension EngineBenchmark {
    /// The latest a same-second schedule's job may reach its worker after the fire time, in milliseconds.
    static let sameSecondTarget = BenchTarget.atMost(1_000, "1 s")

    /// Makes `--schedules` schedules that fire at one second, 15 s ahead, and reports how late
    /// after that second the workers received their jobs.
    ///
    /// One schedule is made through the API; the others are copies of its row made in one SQL
    /// statement (the benchmark measures firing, not 10,000 create calls), spread over the shards.
    func measureSameSecondSchedules() async throws {
        try await self.profiled("schedules") {
            try await self.measureSameSecondRun()
        }
    }

    private func measureSameSecondRun() async throws {
        let run = self.nextRun()
        let queue = Self.queue(of: run)
        let count = self.options.sameSecondSchedules
        let workers = try self.startWorkers(queue: queue)
        let fireUnixSeconds = (Int64(Date().timeIntervalSince1970) + 15)
        let fire = Date(timeIntervalSince1970: Double(fireUnixSeconds))
        let due = self.clock.microseconds(unixMilliseconds: fireUnixSeconds * 1_000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.hour, .minute, .second], from: fire)
        let expression = "\(parts.second!) \(parts.minute!) \(parts.hour!) * * *"
        printProgress("schedules: \(formatCount(count)) firing at \(expression) UTC")
        let template = "bench-\(run)"
        try await self.createSchedule(
            template,
            V1.ScheduleSpec(
                expression: expression, timeZone: "UTC",
                jobTemplate: V1.JobSpec(queue: queue, payloadJSON: BenchJobPayload(run: run, time: due).json),
                overlapPolicy: .allow))
        try await self.copySchedule(template, count: count - 1, spreadSeconds: nil)
        let margin = due - self.clock.now
        let before = self.cpuTimes()
        let measuredFrom = self.clock.now
        let received = await self.log.wait(
            run: run, for: count, stall: .seconds(30), deadline: self.clock.instant(at: due) + .seconds(60))
        let cpu = self.cpuTimes().usage(since: before, over: .microseconds(self.clock.now - measuredFrom))
        let tally = self.log.tally(run)
        _ = await self.log.wait(run: run, for: tally.received, completions: true, stall: .seconds(5))
        await workers.stop()
        try await self.pauseSchedules(prefix: template)

        let lags = LatencyDistribution(measured: tally.latencies, lost: count - tally.received)
        let withinTarget = tally.latencies.count { $0 <= Int64(Self.sameSecondTarget.limit * 1_000) }
        let verdict =
            lags.maximum.map { Self.sameSecondTarget.verdict(for: Double($0) / 1_000) }
            ?? "target ≤ 1 s: missed, \(formatCount(lags.lost)) jobs never received"
        var note =
            "\(verdict); p50 \(lags.text(0.5)), p99 \(lags.text(0.99)); \(formatCount(withinTarget)) of "
            + "\(formatCount(count)) started within 1 s of the fire time; the schedules were ready "
            + "\(LatencyDistribution.text(margin)) before it; \(cpu)"
        if !received {
            note += "; not all received within 60 s of the fire time"
        }
        self.report.add(
            "schedules: \(formatCount(count)) firing at one second, fire time to worker, lag of the last",
            LatencyDistribution.text(lags.maximum), note: note)
    }

    /// Makes `--spread-schedules` schedules that fire every 100 s at evenly spread seconds, with
    /// no workers, and reports the fires per second the server sustained, how late it recorded
    /// them, and its CPU per 1,000 fires.
    func measureSpreadSchedules() async throws {
        try await self.profiled("schedules-spread") {
            try await self.measureSpreadRun()
        }
    }

    private func measureSpreadRun() async throws {
        let run = self.nextRun()
        let queue = Self.queue(of: run)
        let count = self.options.spreadSchedules
        let duration = self.options.spreadDuration
        printProgress(
            "schedules-spread: \(formatCount(count)) schedules every 100 s, \(formatCount(count / 100)) fires/s "
                + "offered, measured for \(duration)")
        let template = "bench-\(run)"
        try await self.createSchedule(
            template,
            V1.ScheduleSpec(
                expression: "every 100s", timeZone: "UTC",
                jobTemplate: V1.JobSpec(queue: queue, payloadJSON: BenchJobPayload(run: run, time: 0).json),
                overlapPolicy: .allow))
        try await self.copySchedule(template, count: count - 1, spreadSeconds: 100)
        // The first copies fire 5 s from now; measure from 10 s, when every second has its share.
        try await Task.sleep(for: .seconds(10))
        let from = Date()
        let before = self.cpuTimes()
        try await Task.sleep(for: duration)
        let elapsed = Date().timeIntervalSince(from)
        let cpuAfter = self.cpuTimes()
        let cores = cpuAfter.cores(since: before, over: .milliseconds(Int64(elapsed * 1_000)))
        try await self.pauseSchedules(prefix: template)
        let fires = try await self.database { connection in
            try connection.query("SELECT set_config('gnomon.tenant_id', 'default', false)")
            return try connection.query(
                """
                SELECT count(*) AS n,
                    coalesce((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM recorded_at - fire_at))
                        * 1000)::bigint, 0) AS p50_ms,
                    coalesce((percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM recorded_at - fire_at))
                        * 1000)::bigint, 0) AS p99_ms,
                    coalesce((max(extract(epoch FROM recorded_at - fire_at)) * 1000)::bigint, 0) AS max_ms
                FROM gnomon_schedule_fires
                WHERE schedule_id LIKE $1 AND recorded_at >= $2 AND recorded_at < $3
                """,
                [template + "%", from, from.addingTimeInterval(elapsed)]
            ).first
        }
        let fired = try fires?.int64("n") ?? 0
        let rate = Double(fired) / elapsed
        let cpuSeconds = (cores.server + cores.postgres) * elapsed
        let perThousand = fired > 0 ? cpuSeconds / Double(fired) * 1_000 : 0
        self.report.add(
            "schedules-spread: \(formatCount(count)) schedules every 100 s, fires/s sustained",
            String(format: "%.0f/s", rate),
            note: String(
                format: "%@ fires in %.1f s (%@ offered per second); fire time to its record: p50 %lld ms, "
                    + "p99 %lld ms, max %lld ms; CPU per 1,000 fires: %.3f s (gnomond %.2f cores, PostgreSQL "
                    + "%.2f cores); no workers, so every fire's job stays pending",
                formatCount(Int(fired)), elapsed, formatCount(count / 100), try fires?.int64("p50_ms") ?? 0,
                try fires?.int64("p99_ms") ?? 0, try fires?.int64("max_ms") ?? 0, perThousand, cores.server,
                cores.postgres))
    }

    private func createSchedule(_ id: String, _ spec: V1.ScheduleSpec) async throws {
        let channel = self.submitChannels[0]
        let request = V1.CreateScheduleRequest(scheduleID: id, spec: spec)
        _ = try await channel.unary(
            .createSchedule, payload: try request.serializedBytes(),
            metadata: V1.CallMetadata(authorization: "Bearer \(self.adminToken)"),
            deadline: .now + .seconds(30))
    }

    /// Copies schedule `id` `count` times, over every shard; with `spreadSeconds`, the copies'
    /// next fires spread over that many seconds from 5 s ahead, else they keep the original's.
    /// Then wakes every shard's loop.
    private func copySchedule(_ id: String, count: Int, spreadSeconds: Int?) async throws {
        try await self.database { connection in
            // The schedule is the `default` tenant's, under its row-level security.
            try connection.query("SELECT set_config('gnomon.tenant_id', 'default', false)")
            let shards = try connection.query("SELECT shard_count FROM gnomon_cluster").first?.int("shard_count") ?? 16
            try connection.query(
                """
                INSERT INTO gnomon_schedules (
                    tenant_id, schedule_id, shard, expression, time_zone, job_template, dst_gap_policy,
                    dst_overlap_policy, catch_up_policy, catch_up_limit, overlap_policy, jitter_ms, description,
                    labels, state, next_fire_at, next_due_at, created_at, updated_at)
                SELECT t.tenant_id, t.schedule_id || '-' || i, i % $2, t.expression, t.time_zone, t.job_template,
                    t.dst_gap_policy, t.dst_overlap_policy, t.catch_up_policy, t.catch_up_limit, t.overlap_policy,
                    t.jitter_ms, t.description, t.labels, t.state, f.fire, f.fire, f.fire - interval '100 seconds',
                    now()
                FROM gnomon_schedules t, generate_series(1, $3) AS i,
                    LATERAL (SELECT CASE WHEN $4::integer IS NULL THEN t.next_fire_at
                        ELSE date_trunc('second', now()) + (5 + i % $4::integer) * interval '1 second' END AS fire) f
                WHERE t.schedule_id = $1
                """,
                [id, shards, count, spreadSeconds]
            )
            try connection.query(
                "SELECT pg_notify('gnomon_schedules', s::text) FROM generate_series(0, $1 - 1) AS s", [shards])
        }
    }

    private func pauseSchedules(prefix: String) async throws {
        try await self.database { connection in
            try connection.query("SELECT set_config('gnomon.tenant_id', 'default', false)")
            try connection.query(
                """
                UPDATE gnomon_schedules SET state = 'paused', next_fire_at = NULL, next_due_at = NULL
                WHERE schedule_id LIKE $1
                """,
                [prefix + "%"])
        }
    }

    /// Runs `body` on a connection of its own, on a thread of its own.
    func database<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let url = self.databaseURL
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try body(try PostgresConnection(connectionString: url)) })
            }
        }
    }
}
