import Foundation
import GnomonStore
import GnomonTestSupport
import Testing

/// The pool's tenant and platform transactions, against the seed of the RLS tests.
@Suite("PostgreSQL pool roles")
struct PostgresPoolRoleTests {
    /// Runs `body` with a one-connection pool on a database holding ``RowLevelSecurityTests/seed``.
    private func withSeededPool(_ body: (PostgresPool) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { try $0.execute(script: RowLevelSecurityTests.seed) }
            try await database.withPool(maximumConnections: 1) { try await body($0) }
        }
    }

    @Test("a tenant transaction runs as gnomon_app and sees only its own tenant's rows")
    func tenantSeesOnlyItself() async throws {
        try await self.withSeededPool { pool in
            let (role, tenants) = try await pool.withTenantTransaction("acme") { connection in
                let role = try connection.query("SELECT current_user AS role").first?.string("role")
                let tenants = try connection.query("SELECT DISTINCT tenant_id FROM gnomon_jobs").rows.map {
                    try $0.string("tenant_id")
                }
                return (role, tenants)
            }
            #expect(role == "gnomon_app")
            #expect(tenants == ["acme"])

            let globexRows = try await pool.withTenantTransaction("acme") { connection in
                try connection.query("SELECT count(*) AS n FROM gnomon_jobs WHERE tenant_id = 'globex'").first?.int("n")
            }
            #expect(globexRows == 0)
        }
    }

    @Test("a tenant transaction cannot insert a row for another tenant")
    func tenantCannotWriteOthers() async throws {
        try await self.withSeededPool { pool in
            let error = await #expect(throws: StoreError.self) {
                try await pool.withTenantTransaction("acme") { connection in
                    try connection.query(
                        "INSERT INTO gnomon_jobs (id, tenant_id, shard, queue, run_at, due_at) "
                            + "VALUES (gen_random_uuid(), 'globex', 0, 'mail', now(), now())"
                    )
                }
            }
            #expect(error?.sqlState == "42501")
            #expect(error?.message.contains("row-level security") == true)
        }
    }

    @Test("a platform transaction runs as gnomon_scheduler and sees every tenant, but no secrets")
    func platformCrossesTenants() async throws {
        try await self.withSeededPool { pool in
            let (role, tenants, secrets) = try await pool.withPlatformTransaction { connection in
                let role = try connection.query("SELECT current_user AS role").first?.string("role")
                let tenants = try connection.query("SELECT DISTINCT tenant_id FROM gnomon_jobs ORDER BY 1").rows.map {
                    try $0.string("tenant_id")
                }
                let secrets = try connection.query("SELECT count(*) AS n FROM gnomon_secrets").first?.int("n")
                return (role, tenants, secrets)
            }
            #expect(role == "gnomon_scheduler")
            #expect(tenants == ["acme", "globex"])
            #expect(secrets == 0)
        }
    }

    @Test("the role and the tenant end with the transaction, whether it commits or rolls back")
    func roleEndsWithTransaction() async throws {
        struct Abort: Error {}
        try await self.withSeededPool { pool in
            let login = try #require(
                try await pool.withConnection { try $0.query("SELECT current_user AS role").first?.string("role") }
            )
            try await pool.withTenantTransaction("acme") { _ in }
            let afterCommit = try await pool.withConnection { connection in
                try connection.query(
                    "SELECT current_user AS role, coalesce(gnomon_current_tenant(), '') AS tenant"
                ).first.map { [try $0.string("role"), try $0.string("tenant")] }
            }
            #expect(afterCommit == [login, ""])

            await #expect(throws: Abort.self) {
                try await pool.withPlatformTransaction { _ in throw Abort() }
            }
            let afterRollback = try await pool.withConnection {
                try $0.query("SELECT current_user AS role").first?.string("role")
            }
            #expect(afterRollback == login)
            #expect(login != "gnomon_app" && login != "gnomon_scheduler")
        }
    }

    @Test("the tenant travels with BEGIN as a quoted literal: quotes and backslashes arrive as they were")
    func tenantLiteral() async throws {
        try await TestDatabase.with { database in
            try await database.withPool { pool in
                for tenant in ["o'brien", #"back\slash"#, "semi; DROP TABLE gnomon_jobs"] {
                    let seen = try await pool.withTenantTransaction(tenant) { connection in
                        try connection.query("SELECT current_setting('gnomon.tenant_id') AS t").first?.string("t")
                    }
                    #expect(seen == tenant)
                }
                let jobs = try await pool.withPlatformTransaction { connection in
                    try connection.query("SELECT to_regclass('gnomon_jobs') IS NOT NULL AS here").first?.bool("here")
                }
                #expect(jobs == true)
            }
        }
    }

    @Test("a login role that is not a member of the roles is told how to grant them")
    func loginRoleWithoutMembership() async throws {
        try await TestDatabase.with { database in
            // Roles belong to the whole cluster: a unique name, dropped afterwards.
            let outsider = "outsider_" + UUID().uuidString.prefix(8).lowercased()
            try await database.withConnection { try $0.execute(script: "CREATE ROLE \(outsider) LOGIN") }
            let pool = PostgresPool(connectionString: database.connectionString + " user=\(outsider)")
            let error = await #expect(throws: StoreError.self) {
                try await pool.withTenantTransaction("acme") { _ in }
            }
            await pool.shutdown()
            try await database.withConnection { try $0.execute(script: "DROP ROLE \(outsider)") }
            #expect(error?.code == .insufficientPrivilege)
            #expect(error?.message.contains("GRANT gnomon_app TO") == true)
        }
    }
}
