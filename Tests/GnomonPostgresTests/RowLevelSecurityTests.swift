import Foundation
import GnomonTestSupport
import Testing

@testable import GnomonStore

@Suite("Row-level security")
struct RowLevelSecurityTests {
    /// Rows for two tenants, acme and globex, in every tenant-owned table, and one audit record
    /// that names no tenant.
    static let seed = """
        INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme'), ('globex');
        INSERT INTO gnomon_queues (tenant_id, name) VALUES ('acme', 'mail'), ('globex', 'mail');
        INSERT INTO gnomon_jobs (id, tenant_id, shard, queue, run_at, due_at)
            SELECT gen_random_uuid(), tenant, shard, 'mail', now(), now()
            FROM unnest(ARRAY['acme', 'globex']) AS tenant, generate_series(0, 3) AS shard;
        INSERT INTO gnomon_idempotency_keys (tenant_id, key, job_id, shard, expires_at)
            SELECT tenant, 'key-1', gen_random_uuid(), 0, now() + interval '1 day'
            FROM unnest(ARRAY['acme', 'globex']) AS tenant;
        INSERT INTO gnomon_job_history (
            id, tenant_id, shard, queue, job_type, state, priority, payload, labels, run_at, attempts,
            max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier, backoff_jitter,
            attempt_timeout_ms, created_at, finished_at
        )
            SELECT gen_random_uuid(), tenant, 0, 'mail', '', 'succeeded', 0, '{}', '{}', now(), 1,
                25, 1000, 3600000, 2, 0.2, 300000, now(), now()
            FROM unnest(ARRAY['acme', 'globex']) AS tenant;
        INSERT INTO gnomon_job_attempts (tenant_id, job_id, number, outcome, started_at, finished_at)
            SELECT tenant, gen_random_uuid(), 1, 'succeeded', now(), now()
            FROM unnest(ARRAY['acme', 'globex']) AS tenant;
        INSERT INTO gnomon_dead_letters (
            id, tenant_id, shard, queue, job_type, priority, payload, labels, run_at, attempts,
            max_attempts, backoff_initial_ms, backoff_max_ms, backoff_multiplier, backoff_jitter,
            attempt_timeout_ms, created_at, last_attempt_number, last_attempt_outcome,
            last_attempt_started_at, last_attempt_finished_at, expires_at
        )
            SELECT gen_random_uuid(), tenant, 0, 'mail', '', 0, '{}', '{}', now(), 25,
                25, 1000, 3600000, 2, 0.2, 300000, now(), 25, 'failed', now(), now(),
                now() + interval '7 days'
            FROM unnest(ARRAY['acme', 'globex']) AS tenant;
        INSERT INTO gnomon_schedules (tenant_id, schedule_id, shard, expression, job_template)
            SELECT tenant, 'nightly', 0, '@daily', '{"queue": "mail"}'
            FROM unnest(ARRAY['acme', 'globex']) AS tenant;
        INSERT INTO gnomon_schedule_fires (tenant_id, schedule_id, fire_time, fire_at, outcome)
            SELECT tenant, 'nightly', now(), now(), 'started'
            FROM unnest(ARRAY['acme', 'globex']) AS tenant;
        INSERT INTO gnomon_secrets (tenant_id, name, ciphertext, nonce, wrapped_data_key, key_id)
            SELECT tenant, 'token', '\\x00112233445566778899aabbccddeeff', '\\x00112233445566778899aabb',
                '\\x01', 'k1'
            FROM unnest(ARRAY['acme', 'globex']) AS tenant;
        INSERT INTO gnomon_rate_buckets (tenant_id, bucket)
            SELECT tenant, 'submit' FROM unnest(ARRAY['acme', 'globex']) AS tenant;
        INSERT INTO gnomon_audit_log (tenant_id, actor, method, outcome, status_code)
            VALUES ('acme', 'alice', 'gnomon.v1.JobService/SubmitJob', 'succeeded', 0),
                ('globex', 'bob', 'gnomon.v1.JobService/SubmitJob', 'succeeded', 0),
                (NULL, 'anonymous', 'gnomon.v1.JobService/SubmitJob', 'denied', 16);
        """

    @Test("every tenant-owned table has row-level security enabled, forced, and keyed on the tenant setting")
    func everyTableProtected() async throws {
        try await TestDatabase.with { database in
            let unprotected = try await database.withConnection { connection in
                try connection.query(
                    """
                    SELECT c.relname AS name
                    FROM pg_class c
                    WHERE c.oid IN (SELECT attrelid FROM pg_attribute WHERE attname = 'tenant_id' AND NOT attisdropped)
                        AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                        AND c.relnamespace = current_schema()::regnamespace
                        AND NOT (c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (
                            SELECT FROM pg_policy p
                            WHERE p.polrelid = c.oid AND p.polname = 'gnomon_tenant_isolation'
                                AND pg_get_expr(p.polqual, c.oid) LIKE '%gnomon_current_tenant()%'
                                AND pg_get_expr(p.polwithcheck, c.oid) LIKE '%gnomon_current_tenant()%'
                        ))
                    """
                ).rows.map { try $0.string("name") }
            }
            #expect(unprotected.isEmpty)
            #expect(try await Self.tenantTables(in: database).count == 13)
        }
    }

    @Test("the roles are not superusers, lack BYPASSRLS, cannot log in, and own nothing")
    func rolesArePlain() async throws {
        try await TestDatabase.with { database in
            let problems = try await database.withConnection { connection in
                try connection.query(
                    """
                    SELECT r.rolname AS name
                    FROM pg_roles r
                    WHERE r.rolname IN ('gnomon_app', 'gnomon_scheduler')
                        AND (r.rolsuper OR r.rolbypassrls OR r.rolcanlogin OR r.rolcreaterole
                            OR EXISTS (SELECT FROM pg_class c WHERE c.relowner = r.oid)
                            OR EXISTS (SELECT FROM pg_proc p WHERE p.proowner = r.oid))
                    UNION ALL
                    SELECT 'missing' WHERE (SELECT count(*) FROM pg_roles
                        WHERE rolname IN ('gnomon_app', 'gnomon_scheduler')) <> 2
                    """
                ).rows.map { try $0.string("name") }
            }
            #expect(problems.isEmpty)
        }
    }

    @Test("without a tenant setting the app role sees no rows in any tenant table")
    func noTenantNoRows() async throws {
        try await Self.withSeededDatabase { database, tables in
            let counts = try await Self.counts(in: database, tables: tables, role: "gnomon_app", tenant: nil)
            #expect(counts.values.allSatisfy { $0 == 0 }, "\(counts)")
        }
    }

    @Test("a tenant's setting shows exactly its own rows and never another tenant's")
    func tenantSeesOnlyItsRows() async throws {
        try await Self.withSeededDatabase { database, tables in
            for tenant in ["acme", "globex"] {
                let visible = try await Self.counts(in: database, tables: tables, role: "gnomon_app", tenant: tenant)
                let owned = try await Self.counts(in: database, tables: tables, role: nil, tenant: nil, owner: tenant)
                let foreign = try await Self.counts(
                    in: database,
                    tables: tables,
                    role: "gnomon_app",
                    tenant: tenant,
                    condition: "tenant_id IS DISTINCT FROM '\(tenant)'"
                )
                #expect(visible == owned)
                #expect(owned.values.allSatisfy { $0 > 0 }, "\(owned)")
                #expect(foreign.values.allSatisfy { $0 == 0 }, "\(foreign)")
            }
        }
    }

    @Test(
        "inserting or moving a row into another tenant is refused",
        arguments: [
            "INSERT INTO gnomon_jobs (id, tenant_id, shard, queue, run_at, due_at) "
                + "VALUES (gen_random_uuid(), 'globex', 0, 'mail', now(), now())",
            "INSERT INTO gnomon_schedules (tenant_id, schedule_id, shard, expression, job_template) "
                + "VALUES ('globex', 'hourly', 0, '@hourly', '{}')",
            "INSERT INTO gnomon_secrets (tenant_id, name, ciphertext, nonce, wrapped_data_key, key_id) "
                + "VALUES ('globex', 'other', '\\x00112233445566778899aabbccddeeff', '\\x00112233445566778899aabb', "
                + "'\\x01', 'k1')",
            "INSERT INTO gnomon_audit_log (tenant_id, actor, method, outcome, status_code) "
                + "VALUES ('globex', 'mallory', 'x', 'succeeded', 0)",
            "INSERT INTO gnomon_audit_log (tenant_id, actor, method, outcome, status_code) "
                + "VALUES (NULL, 'mallory', 'x', 'succeeded', 0)",
            "INSERT INTO gnomon_rate_buckets (tenant_id, bucket) VALUES ('globex', 'other')",
            "UPDATE gnomon_jobs SET tenant_id = 'globex'",
            "UPDATE gnomon_schedules SET tenant_id = 'globex'",
        ]
    )
    func crossTenantWriteRefused(statement: String) async throws {
        try await Self.withSeededDatabase { database, _ in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { connection in
                    try connection.execute(script: "SET ROLE gnomon_app")
                    try connection.transaction { connection in
                        try connection.setTenant("acme")
                        try connection.query(statement)
                    }
                }
            }
            #expect(error?.sqlState == "42501")
            #expect(error?.message.contains("row-level security") == true)
        }
    }

    @Test("the tenant setting does not outlive its transaction on the same connection")
    func settingDoesNotLeak() async throws {
        try await Self.withSeededDatabase { database, _ in
            let counts = try await database.withConnection { connection in
                try connection.execute(script: "SET ROLE gnomon_app")
                let count = "SELECT count(*) AS n FROM gnomon_jobs"
                let inside = try connection.transaction { connection in
                    try connection.setTenant("acme")
                    return try connection.query(count).first?.int("n")
                }
                let afterCommit = try connection.query(count).first?.int("n")
                struct Abort: Error {}
                _ = try? connection.transaction { connection in
                    try connection.setTenant("globex")
                    throw Abort()
                }
                let afterRollback = try connection.query(count).first?.int("n")
                return [inside, afterCommit, afterRollback]
            }
            #expect(counts == [4, 0, 0])
        }
    }

    @Test(
        "audit records cannot be changed, deleted or truncated by either role",
        arguments: ["gnomon_app", "gnomon_scheduler"],
        [
            "UPDATE gnomon_audit_log SET actor = 'nobody'", "DELETE FROM gnomon_audit_log",
            "TRUNCATE gnomon_audit_log",
        ]
    )
    func auditAppendOnly(role: String, statement: String) async throws {
        try await Self.withSeededDatabase { database, _ in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { connection in
                    try connection.execute(script: "SET ROLE \(role)")
                    try connection.transaction { connection in
                        try connection.setTenant("acme")
                        try connection.query(statement)
                    }
                }
            }
            #expect(error?.sqlState == "42501")
        }
    }

    @Test("even the owner cannot change audit records; only dropping a partition removes them")
    func auditAppendOnlyForOwner() async throws {
        try await Self.withSeededDatabase { database, _ in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.query("DELETE FROM gnomon_audit_log") }
            }
            #expect(error?.sqlState == "42501")
            #expect(error?.message.contains("append-only") == true)
        }
    }

    @Test("the scheduler role reads every tenant's rows, except secrets without a tenant setting")
    func schedulerCrossesTenants() async throws {
        try await Self.withSeededDatabase { database, tables in
            let all = try await Self.counts(in: database, tables: tables, role: nil, tenant: nil)
            let scheduler = try await Self.counts(in: database, tables: tables, role: "gnomon_scheduler", tenant: nil)
            var expected = all
            expected["gnomon_secrets"] = 0
            #expect(scheduler == expected)

            let secrets = try await Self.counts(
                in: database,
                tables: ["gnomon_secrets"],
                role: "gnomon_scheduler",
                tenant: "acme"
            )
            #expect(secrets == ["gnomon_secrets": 1])
        }
    }

    @Test(
        "the app role cannot reach partitions directly or call the owner's functions",
        arguments: [
            "SELECT count(*) FROM gnomon_jobs_shard_0",
            "SELECT gnomon_create_shard_partitions(16)",
            "SELECT count(*) FROM gnomon_maintain_partitions(now())",
            "SELECT count(*) FROM gnomon_shard_leases",
        ]
    )
    func appRoleLimits(statement: String) async throws {
        try await TestDatabase.with { database in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { connection in
                    try connection.execute(script: "SET ROLE gnomon_app")
                    try connection.query(statement)
                }
            }
            #expect(error?.sqlState == "42501")
        }
    }

    /// Runs `body` against a migrated database holding ``seed``, with the tenant tables' names.
    static func withSeededDatabase(_ body: (TestDatabase, [String]) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { try $0.execute(script: Self.seed) }
            try await body(database, try await Self.tenantTables(in: database))
        }
    }

    /// The tables with a tenant_id column, partitioned parents included and partitions left out.
    static func tenantTables(in database: TestDatabase) async throws -> [String] {
        try await database.withConnection { connection in
            try connection.query(
                """
                SELECT c.relname AS name
                FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
                WHERE a.attname = 'tenant_id' AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
                    AND NOT c.relispartition AND c.relnamespace = current_schema()::regnamespace
                ORDER BY 1
                """
            ).rows.map { try $0.string("name") }
        }
    }

    /// Counts each table's rows as `role` (the superuser when nil), in a transaction for
    /// `tenant` (none when nil), limited to `owner`'s rows or to `condition` when given.
    static func counts(
        in database: TestDatabase,
        tables: [String],
        role: String?,
        tenant: String?,
        owner: String? = nil,
        condition: String = "true"
    ) async throws -> [String: Int] {
        try await database.withConnection { connection in
            if let role {
                try connection.execute(script: "SET ROLE \(role)")
            }
            var counts: [String: Int] = [:]
            for table in tables {
                counts[table] = try connection.transaction { connection in
                    if let tenant {
                        try connection.setTenant(tenant)
                    }
                    let filter = owner.map { "tenant_id = '\($0)'" } ?? condition
                    return try connection.query("SELECT count(*) AS n FROM \(table) WHERE \(filter)").first?.int("n")
                }
            }
            return counts
        }
    }
}
