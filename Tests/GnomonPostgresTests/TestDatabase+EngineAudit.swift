import Foundation
import GnomonStore
import GnomonTestSupport

/// An attempt ended because its lease expired, with who ended it and who held its shard then.
struct RecordedReap: Sendable {
    var jobID: String
    var shard: Int
    var attempt: Int
    /// The node whose connection wrote it, from its `application_name`.
    var writer: String
    /// The shard lease as the writing transaction saw it, on the database's clock.
    var leaseOwner: String?
    var leaseEpoch: Int64
    var leaseCurrent: Bool
    var atUnixMilliseconds: Int64
}

/// The running attempt of a live job, from `gnomon_jobs`.
struct RunningAttempt: Sendable {
    var number: Int
    var startedAtMicroseconds: Int64
    var leaseExpiresAtMicroseconds: Int64
}

/// One finished attempt of a job, from `gnomon_job_attempts`.
struct FinishedAttempt: Sendable {
    var number: Int
    var outcome: String
    var startedAtMicroseconds: Int64
    var finishedAtMicroseconds: Int64
}

extension TestDatabase {
    /// Records every attempt ended by lease expiry, by whom and under which shard lease.
    ///
    /// The trigger runs in the reaping transaction, which holds its shard's lease row locked
    /// (FOR SHARE) and reads it at the same `now()`: a fenced reap sees its own node as the
    /// owner of a current lease. Nodes are told apart by `application_name` `gnomond-<id>`.
    func installReapAudit() async throws {
        try await self.withConnection { connection in
            try connection.execute(
                script: """
                    CREATE TABLE gnomon_test_reaps (
                        id bigserial PRIMARY KEY,
                        job_id uuid NOT NULL,
                        shard integer NOT NULL,
                        attempt integer NOT NULL,
                        writer text NOT NULL,
                        lease_owner text,
                        lease_epoch bigint NOT NULL,
                        lease_current boolean NOT NULL,
                        at timestamptz NOT NULL
                    );
                    CREATE FUNCTION gnomon_test_record_reap() RETURNS trigger
                        LANGUAGE plpgsql SECURITY DEFINER
                        AS $$
                    DECLARE
                        -- JobStore.shard(of:): the id's last four bytes, big-endian, modulo the shard count.
                        job_shard integer := (('x' || right(replace(NEW.job_id::text, '-', ''), 8))::bit(32)::bigint
                            % (SELECT shard_count FROM gnomon_cluster))::integer;
                    BEGIN
                        INSERT INTO gnomon_test_reaps
                            (job_id, shard, attempt, writer, lease_owner, lease_epoch, lease_current, at)
                        SELECT NEW.job_id, job_shard, NEW.number, current_setting('application_name'),
                            l.owner_node, l.epoch, l.expires_at > now(), clock_timestamp()
                        FROM gnomon_shard_leases AS l WHERE l.shard = job_shard;
                        RETURN NULL;
                    END
                    $$;
                    CREATE TRIGGER gnomon_test_reaps AFTER INSERT ON gnomon_job_attempts
                        FOR EACH ROW WHEN (NEW.outcome = 'timed_out')
                        EXECUTE FUNCTION gnomon_test_record_reap();
                    """)
        }
    }

    /// Every reap recorded since ``installReapAudit()``, in order.
    func recordedReaps() async throws -> [RecordedReap] {
        try await self.withConnection { connection in
            try connection.query(
                """
                SELECT job_id, shard, attempt, writer, lease_owner, lease_epoch, lease_current,
                    (extract(epoch FROM at) * 1000)::bigint AS at_ms
                FROM gnomon_test_reaps ORDER BY id
                """
            ).rows.map { row in
                RecordedReap(
                    jobID: try row.string("job_id"), shard: try row.int("shard"), attempt: try row.int("attempt"),
                    writer: try row.string("writer"), leaseOwner: row["lease_owner"],
                    leaseEpoch: try row.int64("lease_epoch"), leaseCurrent: try row.bool("lease_current"),
                    atUnixMilliseconds: try row.int64("at_ms"))
            }
        }
    }

    /// The database's clock now, in milliseconds since 1970.
    func nowUnixMilliseconds() async throws -> Int64 {
        try await self.withConnection { connection in
            try connection.query("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms").first?
                .int64("ms") ?? 0
        }
    }

    /// The cluster's job store, to tell which shard a job is on.
    func jobStore() async throws -> JobStore {
        try await self.withConnection { try JobStore.load(on: $0) }
    }

    /// How many of `ids` succeeded: in history as succeeded, and no longer live.
    func succeededCount(_ ids: [String]) async throws -> Int {
        try await self.withConnection { connection in
            try connection.query(
                """
                SELECT count(*)::int AS n FROM gnomon_job_history
                WHERE id = ANY($1::uuid[]) AND state = 'succeeded'
                    AND NOT EXISTS (SELECT FROM gnomon_jobs WHERE gnomon_jobs.id = gnomon_job_history.id)
                """,
                [PostgresArray.literal(ids)]
            ).first?.int("n") ?? 0
        }
    }

    /// The ids among `ids` found nowhere: not live, not in history, not dead.
    func missingJobs(_ ids: [String]) async throws -> [String] {
        try await self.withConnection { connection in
            try connection.query(
                """
                SELECT wanted.id::text AS id FROM unnest($1::uuid[]) AS wanted(id)
                WHERE NOT EXISTS (SELECT FROM gnomon_jobs WHERE gnomon_jobs.id = wanted.id)
                    AND NOT EXISTS (SELECT FROM gnomon_job_history WHERE gnomon_job_history.id = wanted.id)
                    AND NOT EXISTS (SELECT FROM gnomon_dead_letters WHERE gnomon_dead_letters.id = wanted.id)
                """,
                [PostgresArray.literal(ids)]
            ).rows.map { try $0.string("id") }
        }
    }

    /// How many history rows each of `ids` has, by id; a job finished once has exactly one.
    func historyRowCounts(_ ids: [String]) async throws -> [String: Int] {
        try await self.withConnection { connection in
            var counts: [String: Int] = [:]
            for row in try connection.query(
                "SELECT id::text AS id, count(*)::int AS n FROM gnomon_job_history WHERE id = ANY($1::uuid[]) GROUP BY id",
                [PostgresArray.literal(ids)]
            ).rows {
                counts[try row.string("id")] = try row.int("n")
            }
            return counts
        }
    }

    /// The finished attempts of `ids`, by job id, in attempt order.
    func finishedAttempts(_ ids: [String]) async throws -> [String: [FinishedAttempt]] {
        try await self.withConnection { connection in
            let rows = try connection.query(
                """
                SELECT job_id::text AS job_id, number, outcome,
                    (extract(epoch FROM started_at) * 1000000)::bigint AS started_us,
                    (extract(epoch FROM finished_at) * 1000000)::bigint AS finished_us
                FROM gnomon_job_attempts WHERE job_id = ANY($1::uuid[])
                ORDER BY job_id, number, started_at
                """,
                [PostgresArray.literal(ids)]
            ).rows
            var attempts: [String: [FinishedAttempt]] = [:]
            for row in rows {
                attempts[try row.string("job_id"), default: []].append(
                    FinishedAttempt(
                        number: try row.int("number"), outcome: try row.string("outcome"),
                        startedAtMicroseconds: try row.int64("started_us"),
                        finishedAtMicroseconds: try row.int64("finished_us")))
            }
            return attempts
        }
    }

    /// How many attempts of `ids` are running with a lease that has expired, or that has not.
    func runningLeaseCount(_ ids: [String], expired: Bool) async throws -> Int {
        try await self.withConnection { connection in
            try connection.query(
                """
                SELECT count(*)::int AS n FROM gnomon_jobs
                WHERE id = ANY($1::uuid[]) AND state = 'running' AND (lease_expires_at <= now()) = $2
                """,
                [PostgresArray.literal(ids), expired]
            ).first?.int("n") ?? 0
        }
    }

    /// The running attempt of job `id`, or `nil` when it is not running.
    func runningAttempt(_ id: String) async throws -> RunningAttempt? {
        try await self.withConnection { connection in
            try connection.query(
                """
                SELECT attempts, (extract(epoch FROM attempt_started_at) * 1000000)::bigint AS started_us,
                    (extract(epoch FROM lease_expires_at) * 1000000)::bigint AS expires_us
                FROM gnomon_jobs WHERE id = $1::uuid AND state = 'running'
                """,
                [id]
            ).first.map { row in
                RunningAttempt(
                    number: try row.int("attempts"), startedAtMicroseconds: try row.int64("started_us"),
                    leaseExpiresAtMicroseconds: try row.int64("expires_us"))
            }
        }
    }

    /// Ends every session whose `application_name` starts with `prefix`, as an operator or a
    /// failing proxy might.
    ///
    /// - Returns: How many sessions were ended.
    func terminateSessions(applicationNamePrefix prefix: String) async throws -> Int {
        try await self.withConnection { connection in
            try connection.query(
                """
                SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
                WHERE starts_with(application_name, $1) AND pid <> pg_backend_pid()
                """,
                [prefix]
            ).first?.int("n") ?? 0
        }
    }

    /// How many sessions of this database wait for a lock, of the node named `application`
    /// or of any client when it is empty.
    func lockWaiterCount(application: String = "") async throws -> Int {
        try await self.withConnection { connection in
            try connection.query(
                """
                SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'
                    AND ($1 = '' OR application_name = $1)
                """,
                [application]
            ).first?.int("n") ?? 0
        }
    }

    /// The states of the sessions whose `application_name` is `application`, such as
    /// `idle in transaction`.
    func sessionStates(application: String) async throws -> [String] {
        try await self.withConnection { connection in
            try connection.query(
                "SELECT state FROM pg_stat_activity WHERE application_name = $1 AND state IS NOT NULL",
                [application]
            ).rows.map { try $0.string("state") }
        }
    }
}
