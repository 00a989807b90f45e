import Foundation
import GnomonStore
import GnomonTestSupport
import Testing

/// Usage counters taken and given back in tenants' transactions, by racing nodes too.
@Suite("Quota store")
struct QuotaStoreTests {
    /// Runs `body` with two pools (two nodes) on a database with tenants acme and globex.
    private func withTwoNodes(_ body: (PostgresPool, PostgresPool) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try connection.execute(script: "INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme'), ('globex')")
            }
            try await database.withPool(maximumConnections: 8) { first in
                try await database.withPool(maximumConnections: 8) { second in
                    try await body(first, second)
                }
            }
        }
    }

    @Test("takes count up to the limit, then the next take names the quota, its limit and the usage")
    func takeUntilFull() async throws {
        try await self.withTwoNodes { pool, _ in
            let usage = try await pool.withTenantTransaction("acme") { connection in
                [
                    try QuotaStore.takePendingJobs(3, limit: 5, tenantID: "acme", on: connection),
                    try QuotaStore.takePendingJobs(2, limit: 5, tenantID: "acme", on: connection),
                    try QuotaStore.takePendingJobs(0, limit: 5, tenantID: "acme", on: connection),
                ]
            }
            #expect(usage == [3, 5, 5])

            let error = await #expect(throws: StoreError.self) {
                try await pool.withTenantTransaction("acme") {
                    try QuotaStore.takePendingJobs(1, limit: 5, tenantID: "acme", on: $0)
                }
            }
            #expect(error?.code == .quotaExceeded)
            #expect(error?.quota == QuotaViolation(quota: "max_pending_jobs", limit: 5, current: 5, requested: 1))
            #expect(error?.message.contains("max_pending_jobs") == true)
            #expect(error?.message.contains("has 5 pending jobs of the 5") == true)
        }
    }

    @Test("with one unit left, exactly one of 100 takers racing on two nodes gets it")
    func lastUnitRace() async throws {
        try await self.withTwoNodes { first, second in
            try await first.withTenantTransaction("acme") {
                try QuotaStore.takePendingJobs(99, limit: 100, tenantID: "acme", on: $0)
            }
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for taker in 0..<100 {
                    let pool = taker.isMultiple(of: 2) ? first : second
                    group.addTask {
                        do {
                            try await pool.withTenantTransaction("acme") {
                                try QuotaStore.takePendingJobs(1, limit: 100, tenantID: "acme", on: $0)
                            }
                            return true
                        } catch let error as StoreError where error.code == .quotaExceeded {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            #expect(outcomes.count == 100)
            let usage = try await first.withPlatformTransaction { try TenantStore.get("acme", on: $0).usage }
            #expect(usage.liveJobs == 100)
        }
    }

    @Test("a take rolls back with the transaction it was made in")
    func rollsBack() async throws {
        struct Abort: Error {}
        try await self.withTwoNodes { pool, _ in
            await #expect(throws: Abort.self) {
                try await pool.withTenantTransaction("acme") { connection in
                    try QuotaStore.takeSchedules(4, limit: 10, tenantID: "acme", on: connection)
                    throw Abort()
                }
            }
            let usage = try await pool.withTenantTransaction("acme") { try TenantStore.get("acme", on: $0).usage }
            #expect(usage.schedules == 0)
        }
    }

    @Test("releasing never takes a counter below zero")
    func releaseFloor() async throws {
        try await self.withTwoNodes { pool, _ in
            let values = try await pool.withTenantTransaction("acme") { connection in
                [
                    try QuotaStore.takeSecrets(2, limit: nil, tenantID: "acme", on: connection),
                    try QuotaStore.releaseSecrets(5, tenantID: "acme", on: connection),
                    try QuotaStore.releaseSecrets(1, tenantID: "acme", on: connection),
                ]
            }
            #expect(values == [2, 0, 0])
        }
    }

    @Test("each counter is its own, and a release frees room for the next take")
    func countersApart() async throws {
        try await self.withTwoNodes { pool, _ in
            let usage = try await pool.withPlatformTransaction { connection in
                try QuotaStore.takePendingJobs(1, limit: 1, tenantID: "acme", on: connection)
                try QuotaStore.takeRunningJobs(2, limit: 2, tenantID: "acme", on: connection)
                try QuotaStore.takeSchedules(3, limit: 3, tenantID: "acme", on: connection)
                try QuotaStore.takeSecrets(4, limit: 4, tenantID: "acme", on: connection)
                try QuotaStore.releaseRunningJobs(1, tenantID: "acme", on: connection)
                try QuotaStore.takeRunningJobs(1, limit: 2, tenantID: "acme", on: connection)
                try QuotaStore.releaseSchedules(3, tenantID: "acme", on: connection)
                try QuotaStore.releasePendingJobs(1, tenantID: "acme", on: connection)
                return try TenantStore.get("acme", on: connection).usage
            }
            #expect(usage == TenantUsage(liveJobs: 0, runningJobs: 2, schedules: 0, secrets: 4))
            let globex = try await pool.withPlatformTransaction { try TenantStore.get("globex", on: $0).usage }
            #expect(globex == TenantUsage())
        }
    }

    @Test("a quota lowered below the usage refuses takes but still allows releases")
    func loweredQuota() async throws {
        try await self.withTwoNodes { pool, _ in
            try await pool.withTenantTransaction("acme") {
                try QuotaStore.takeRunningJobs(10, limit: 10, tenantID: "acme", on: $0)
            }
            let error = await #expect(throws: StoreError.self) {
                try await pool.withTenantTransaction("acme") {
                    try QuotaStore.takeRunningJobs(1, limit: 4, tenantID: "acme", on: $0)
                }
            }
            #expect(error?.quota == QuotaViolation(quota: "max_concurrent_runs", limit: 4, current: 10, requested: 1))
            let left = try await pool.withTenantTransaction("acme") {
                try QuotaStore.releaseRunningJobs(7, tenantID: "acme", on: $0)
            }
            #expect(left == 3)
        }
    }

    @Test("a tenant's transaction cannot count for another tenant or an unknown one")
    func otherTenant() async throws {
        try await self.withTwoNodes { pool, _ in
            for tenant in ["globex", "initech"] {
                let error = await #expect(throws: StoreError.self) {
                    try await pool.withTenantTransaction("acme") {
                        try QuotaStore.takePendingJobs(1, limit: 10, tenantID: tenant, on: $0)
                    }
                }
                #expect(error?.code == .notFound)
                #expect(error?.message.contains("'\(tenant)'") == true)
            }
            let globex = try await pool.withPlatformTransaction { try TenantStore.get("globex", on: $0).usage }
            #expect(globex.liveJobs == 0)
        }
    }

    @Test("negative counts and limits are refused as invalid arguments")
    func badArguments() async throws {
        try await self.withTwoNodes { pool, _ in
            let operations: [@Sendable (PostgresConnection) throws -> Void] = [
                { try QuotaStore.takePendingJobs(-1, limit: 10, tenantID: "acme", on: $0) },
                { try QuotaStore.takePendingJobs(1, limit: -1, tenantID: "acme", on: $0) },
                { try QuotaStore.releasePendingJobs(-3, tenantID: "acme", on: $0) },
                { try QuotaStore.takeSecrets(.max, limit: nil, tenantID: "acme", on: $0) },
            ]
            for operation in operations {
                let error = await #expect(throws: StoreError.self) {
                    try await pool.withTenantTransaction("acme") { try operation($0) }
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.contains("expected 0") == true)
            }
        }
    }
}
