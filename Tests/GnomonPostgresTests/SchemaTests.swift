import Foundation
import GnomonTestSupport
import Testing

@testable import GnomonStore

@Suite("Schema")
struct SchemaTests {
    /// The queries the engine runs on one shard, and the index each must be served by.
    static let shardQueries: [(query: String, index: String)] = [
        (
            """
            SELECT id FROM gnomon_jobs
            WHERE shard = 5 AND state IN ('pending', 'retry_wait') AND due_at <= now()
            ORDER BY due_at LIMIT 10 FOR UPDATE SKIP LOCKED
            """,
            "gnomon_jobs_due_idx"
        ),
        (
            "SELECT min(due_at) FROM gnomon_jobs WHERE shard = 5 AND state IN ('pending', 'retry_wait')",
            "gnomon_jobs_due_idx"
        ),
        (
            """
            SELECT id FROM gnomon_jobs
            WHERE shard = 5 AND tenant_id = 'acme' AND queue = 'mail' AND state IN ('pending', 'retry_wait')
                AND due_at <= now()
            ORDER BY priority DESC, due_at LIMIT 10 FOR UPDATE SKIP LOCKED
            """,
            "gnomon_jobs_queue_due_idx"
        ),
        (
            """
            SELECT id FROM gnomon_jobs
            WHERE shard = 5 AND state = 'running' AND lease_expires_at <= now()
            ORDER BY lease_expires_at LIMIT 10 FOR UPDATE SKIP LOCKED
            """,
            "gnomon_jobs_lease_idx"
        ),
    ]

    @Test("live jobs have one partition per shard, 16 by default, each with its lease row")
    func shardPartitions() async throws {
        try await TestDatabase.with { database in
            let counts = try await database.withConnection { connection in
                try connection.query(
                    """
                    SELECT (SELECT shard_count FROM gnomon_cluster) AS recorded,
                        (SELECT count(*) FROM pg_inherits WHERE inhparent = 'gnomon_jobs'::regclass) AS partitions,
                        (SELECT count(*) FROM gnomon_shard_leases) AS leases
                    """
                ).first.map { try [$0.int("recorded"), $0.int("partitions"), $0.int("leases")] }
            }
            #expect(counts == [16, 16, 16])
        }
    }

    @Test("creating the shard partitions again adds nothing, and another count is refused")
    func shardPartitionsAgain() async throws {
        try await TestDatabase.with { database in
            let created = try await database.withConnection { connection in
                try connection.query("SELECT gnomon_create_shard_partitions(16) AS created").first?.int("created")
            }
            #expect(created == 0)
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.query("SELECT gnomon_create_shard_partitions(64)") }
            }
            #expect(error?.sqlState == "22023")
            #expect(error?.message.contains("this cluster has 16 shards") == true)
        }
    }

    @Test("a job for a shard with no partition is refused")
    func unknownShard() async throws {
        try await TestDatabase.with { database in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { connection in
                    try connection.query(
                        "INSERT INTO gnomon_jobs (id, tenant_id, shard, queue, run_at, due_at) "
                            + "VALUES (gen_random_uuid(), 'acme', 16, 'mail', now(), now())"
                    )
                }
            }
            #expect(error?.sqlState == "23514")
        }
    }

    @Test("each shard query reads one partition through its partial index, in index order")
    func shardQueryPlans() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { try $0.execute(script: Self.mixedShard) }
            for (query, index) in Self.shardQueries {
                let (plan, partitionIndex) = try await database.withConnection { connection in
                    (
                        try Self.plan(of: query, on: connection, pricingOutSequentialScans: false),
                        try Self.partitionIndex(of: index, on: "gnomon_jobs_shard_5", connection: connection)
                    )
                }
                #expect(plan.contains("using \(partitionIndex) on gnomon_jobs_shard_5"), "\(plan)")
                #expect(!plan.contains("Sort"), "\(plan)")
                #expect(plan.components(separatedBy: "gnomon_jobs_shard_").count == 3, "\(plan)")
            }
        }
    }

    @Test("a prepared claim with a generic plan still prunes to one shard at run time")
    func genericPlanPrunes() async throws {
        try await TestDatabase.with { database in
            let plan = try await database.withConnection { connection in
                try connection.execute(
                    script: """
                        SET plan_cache_mode = force_generic_plan;
                        PREPARE claim (smallint, integer) AS
                            SELECT id FROM gnomon_jobs
                            WHERE shard = $1 AND state IN ('pending', 'retry_wait') AND due_at <= now()
                            ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED;
                        """
                )
                return try Self.plan(of: "EXECUTE claim(5, 10)", on: connection)
            }
            #expect(plan.contains("Subplans Removed: 15"), "\(plan)")
        }
    }

    @Test("due schedules of a shard are read through the partial due-schedule index")
    func scheduleQueryPlan() async throws {
        try await TestDatabase.with { database in
            let plan = try await database.withConnection { connection in
                try Self.plan(
                    of: """
                        SELECT schedule_id FROM gnomon_schedules
                        WHERE shard = 5 AND state = 'active' AND next_due_at <= now()
                        ORDER BY next_due_at LIMIT 10 FOR UPDATE SKIP LOCKED
                        """,
                    on: connection
                )
            }
            #expect(plan.contains("Index Scan using gnomon_schedules_due_idx"), "\(plan)")
            #expect(!plan.contains("Sort"), "\(plan)")
        }
    }

    @Test("label selectors are served by a GIN index", arguments: ["gnomon_jobs", "gnomon_job_history"])
    func labelIndex(table: String) async throws {
        try await TestDatabase.with { database in
            let plan = try await database.withConnection { connection in
                try Self.plan(of: "SELECT id FROM \(table) WHERE labels @> '{\"team\": \"billing\"}'", on: connection)
            }
            #expect(plan.contains("Bitmap Index Scan on \(table)_"), "\(plan)")
            #expect(plan.contains("labels @>"), "\(plan)")
        }
    }

    @Test("live partitions leave room for HOT updates and are vacuumed eagerly")
    func livePartitionStorage() async throws {
        try await TestDatabase.with { database in
            let options = try await database.withConnection { connection in
                try connection.query(
                    """
                    SELECT DISTINCT array_to_string(c.reloptions, ',') AS options
                    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'gnomon_jobs'::regclass
                    """
                ).rows.map { try $0.string("options") }
            }
            #expect(options.count == 1)
            #expect(options.first?.contains("fillfactor=70") == true)
            #expect(options.first?.contains("autovacuum_vacuum_scale_factor=0.02") == true)
        }
    }

    @Test("the live table holds only pending, running and retry_wait jobs; running ones need a lease")
    func liveStates() async throws {
        try await TestDatabase.with { database in
            let insert =
                "INSERT INTO gnomon_jobs (id, tenant_id, shard, queue, run_at, due_at, state) "
                + "VALUES (gen_random_uuid(), 'acme', 0, 'mail', now(), now(), $1)"
            for state in ["succeeded", "dead", "running"] {
                let error = await #expect(throws: StoreError.self) {
                    try await database.withConnection { try $0.query(insert, [state]) }
                }
                #expect(error?.sqlState == "23514", "\(state)")
            }
            try await database.withConnection { try $0.query(insert, ["retry_wait"]) }
        }
    }

    @Test(
        "tenant ids follow the documented form, and the empty string is never one",
        arguments: ["", "Acme", "a_b", "1abc"])
    func tenantIDForm(id: String) async throws {
        try await TestDatabase.with { database in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection {
                    try $0.query("INSERT INTO gnomon_tenants (tenant_id) VALUES ($1)", [id])
                }
            }
            #expect(error?.sqlState == "23514")
        }
    }

    @Test("a new tenant gets its usage row, all zero")
    func tenantUsage() async throws {
        try await TestDatabase.with { database in
            let usage = try await database.withConnection { connection in
                try connection.query("INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme')")
                return try connection.query(
                    "SELECT live_jobs + running_jobs + schedules + secrets AS total FROM gnomon_tenant_usage"
                )
                .rows.map { try $0.int("total") }
            }
            #expect(usage == [0])
        }
    }

    @Test("a schedule fire can be recorded only once per fire time")
    func scheduleFireOnce() async throws {
        try await TestDatabase.with { database in
            let record =
                "INSERT INTO gnomon_schedule_fires (tenant_id, schedule_id, fire_time, fire_at, outcome) "
                + "VALUES ($1, 'nightly', date_trunc('hour', now()), now(), 'started')"
            try await database.withConnection { try $0.query(record, ["acme"]) }
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.query(record, ["acme"]) }
            }
            #expect(error?.sqlState == "23505")
            try await database.withConnection { try $0.query(record, ["globex"]) }
        }
    }

    @Test("an idempotency key is unique within its tenant only")
    func idempotencyKeys() async throws {
        try await TestDatabase.with { database in
            let record =
                "INSERT INTO gnomon_idempotency_keys (tenant_id, key, job_id, shard, expires_at) "
                + "VALUES ($1, 'order-42', gen_random_uuid(), 0, now() + interval '1 day')"
            try await database.withConnection { try $0.query(record, ["acme"]) }
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.query(record, ["acme"]) }
            }
            #expect(error?.sqlState == "23505")
            try await database.withConnection { try $0.query(record, ["globex"]) }
        }
    }

    @Test("secrets are stored only as ciphertext with a 12-byte nonce")
    func secretShape() async throws {
        try await TestDatabase.with { database in
            let insert =
                "INSERT INTO gnomon_secrets (tenant_id, name, ciphertext, nonce, wrapped_data_key, key_id) "
                + "VALUES ('acme', 'token', $1, $2, $3, 'k1')"
            try await database.withConnection { try $0.query("INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme')") }
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection {
                    try $0.query(
                        insert,
                        [
                            [UInt8](repeating: 1, count: 32), [UInt8](repeating: 2, count: 8),
                            [UInt8](repeating: 3, count: 40),
                        ])
                }
            }
            #expect(error?.sqlState == "23514")
            try await database.withConnection {
                try $0.query(
                    insert,
                    [
                        [UInt8](repeating: 1, count: 32), [UInt8](repeating: 2, count: 12),
                        [UInt8](repeating: 3, count: 40),
                    ])
            }
            let columns = try await database.withConnection { connection in
                try connection.query(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'gnomon_secrets' ORDER BY 1"
                ).rows.map { try $0.string("column_name") }
            }
            #expect(!columns.contains { $0.contains("plain") || $0 == "value" })
        }
    }

    @Test("inserting jobs wakes each shard touched once per statement, with the shard as payload")
    func insertNotifies() async throws {
        try await TestDatabase.with { database in
            let payloads = try await database.withConnection { listener in
                try listener.listen("gnomon_jobs")
                let sender = try PostgresConnection(connectionString: database.connectionString)
                try sender.query(
                    """
                    INSERT INTO gnomon_jobs (id, tenant_id, shard, queue, run_at, due_at)
                    SELECT gen_random_uuid(), 'acme', shard, 'mail', now(), now()
                    FROM unnest(ARRAY[0, 0, 5, 0, 5]::smallint[]) AS shard
                    """
                )
                var received: [String] = []
                while received.count < 2 {
                    let batch = try listener.notifications(waitingUpTo: .seconds(5))
                    guard !batch.isEmpty else {
                        break
                    }
                    received += batch.map(\.payload)
                }
                return received + (try listener.notifications(waitingUpTo: .milliseconds(200))).map(\.payload)
            }
            #expect(payloads.sorted() == ["0", "5"])
        }
    }

    @Test("the lease epoch advances on a change of owner and on retaking a lapsed lease, not on renewal")
    func leaseEpoch() async throws {
        try await TestDatabase.with { database in
            let epochs = try await database.withConnection { connection in
                let take = """
                    UPDATE gnomon_shard_leases SET owner_node = $1, expires_at = now() + $2::interval
                    WHERE shard = 3 RETURNING epoch
                    """
                return try [
                    ("node-a", "30 seconds"), ("node-a", "30 seconds"), ("node-b", "30 seconds"),
                    ("node-b", "-1 second"), ("node-b", "30 seconds"),
                ].map { owner, duration -> Int in
                    try connection.transaction { try $0.query(take, [owner, duration]).first?.int("epoch") ?? -1 }
                }
            }
            #expect(epochs == [1, 1, 2, 2, 3])
        }
    }

    @Test("a lease epoch cannot be set by hand")
    func leaseEpochByHand() async throws {
        try await TestDatabase.with { database in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { connection in
                    try connection.query(
                        "UPDATE gnomon_shard_leases SET owner_node = 'a', expires_at = 'infinity' WHERE shard = 1")
                    try connection.query("UPDATE gnomon_shard_leases SET epoch = 0 WHERE shard = 1")
                }
            }
            #expect(error?.sqlState == "23514")
        }
    }

    /// 2,000 jobs in shard 5 of three tenants and two queues, in every live state, half of
    /// them due, then fresh statistics.
    static let mixedShard = """
        INSERT INTO gnomon_jobs (
            id, tenant_id, shard, queue, run_at, due_at, state, lease_token, lease_expires_at, lease_epoch
        )
        SELECT gen_random_uuid(), (ARRAY['acme', 'globex', 'initech'])[1 + i % 3], 5,
            (ARRAY['mail', 'sms'])[1 + i % 2], now(), now() + (i % 200 - 100) * interval '1 minute',
            (ARRAY['pending', 'pending', 'retry_wait', 'running'])[1 + i % 4],
            CASE WHEN i % 4 = 3 THEN gen_random_uuid() END,
            CASE WHEN i % 4 = 3 THEN now() + (i % 10 - 5) * interval '1 minute' END,
            CASE WHEN i % 4 = 3 THEN 1 END
        FROM generate_series(1, 2000) AS i;
        ANALYZE gnomon_jobs;
        """

    /// The plan of `query`; with sequential scans priced out, an applicable index is chosen
    /// even on empty tables.
    static func plan(
        of query: String,
        on connection: PostgresConnection,
        pricingOutSequentialScans: Bool = true
    ) throws -> String {
        try connection.transaction { connection in
            if pricingOutSequentialScans {
                try connection.execute(script: "SET LOCAL enable_seqscan = off")
            }
            return try connection.query("EXPLAIN " + query).rows.compactMap { $0[0] }.joined(separator: "\n")
        }
    }

    /// The name of the partition of index `parent` on the partition `table`.
    static func partitionIndex(of parent: String, on table: String, connection: PostgresConnection) throws -> String {
        let result = try connection.query(
            """
            SELECT c.relname AS name
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_index x ON x.indexrelid = c.oid
            WHERE i.inhparent = $1::regclass AND x.indrelid = $2::regclass
            """,
            [parent, table]
        )
        return try result.first?.string("name") ?? "(no partition of \(parent) on \(table))"
    }
}
