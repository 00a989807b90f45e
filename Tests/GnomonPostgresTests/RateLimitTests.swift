import Foundation
import GnomonStore
import GnomonTestSupport
import Testing

/// The submission token bucket, shared by nodes through PostgreSQL.
@Suite("Submission rate limit")
struct RateLimitTests {
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

    private static func take(
        _ count: Int = 1,
        rate: Double,
        burst: Int64,
        tenant: String = "acme",
        on pool: PostgresPool
    ) async throws -> RateLimitDecision {
        try await pool.withTenantTransaction(tenant) {
            try QuotaStore.takeSubmitTokens(count, ratePerSecond: rate, burst: burst, tenantID: tenant, on: $0)
        }
    }

    @Test("with a burst of 10 and almost no refill, exactly 10 of 100 takers racing on two nodes get a token")
    func burstAcrossNodes() async throws {
        try await self.withTwoNodes { first, second in
            let started = ContinuousClock.now
            let decisions = try await withThrowingTaskGroup(of: RateLimitDecision.self) { group in
                for taker in 0..<100 {
                    let pool = taker.isMultiple(of: 2) ? first : second
                    group.addTask { try await Self.take(rate: 0.001, burst: 10, on: pool) }
                }
                return try await group.reduce(into: [RateLimitDecision]()) { $0.append($1) }
            }
            // 0.001 tokens a second: a test would have to run for 1000 s to earn one more.
            let refill = Int((ContinuousClock.now - started) / .seconds(1_000))
            let allowed = decisions.filter {
                if case .allowed = $0 { return true }
                return false
            }
            #expect(allowed.count == 10 + refill)
            for decision in decisions {
                if case .refused(let retryAfter, let available) = decision {
                    #expect(available >= 0 && available < 1)
                    #expect(retryAfter > .seconds(900) && retryAfter <= .seconds(1_000))
                }
            }
        }
    }

    @Test("a refusal says when enough tokens will be there, and they are")
    func retryAfter() async throws {
        try await self.withTwoNodes { pool, _ in
            let first = try await Self.take(rate: 2, burst: 1, on: pool)
            #expect(first == .allowed(tokensLeft: 0))
            let second = try await Self.take(rate: 2, burst: 1, on: pool)
            guard case .refused(let retryAfter, let available) = second else {
                Issue.record("expected a refusal right after the only token was taken, got \(second)")
                return
            }
            #expect(retryAfter > .zero && retryAfter <= .milliseconds(500))
            #expect(available < 1)

            try await Task.sleep(for: retryAfter + .milliseconds(20))
            let third = try await Self.take(rate: 2, burst: 1, on: pool)
            guard case .allowed(let left) = third else {
                Issue.record("expected a token after waiting \(retryAfter), got \(third)")
                return
            }
            #expect(left >= 0 && left < 1)
        }
    }

    @Test("a new bucket starts full, and a lowered burst caps what it holds")
    func fullAndCapped() async throws {
        try await self.withTwoNodes { pool, _ in
            let full = try await Self.take(4, rate: 0.001, burst: 10, on: pool)
            guard case .allowed(let left) = full else {
                Issue.record("a new bucket refused 4 of its 10 tokens: \(full)")
                return
            }
            #expect(abs(left - 6) < 0.01)
            let capped = try await Self.take(1, rate: 0.001, burst: 3, on: pool)
            guard case .allowed(let cappedLeft) = capped else {
                Issue.record("a bucket of 3 refused 1 token: \(capped)")
                return
            }
            #expect(abs(cappedLeft - 2) < 0.01)
            let globex = try await Self.take(10, rate: 0.001, burst: 10, tenant: "globex", on: pool)
            #expect(globex == .allowed(tokensLeft: 0))
        }
    }

    @Test("tokens taken in a transaction that rolls back come back")
    func rollsBack() async throws {
        struct Abort: Error {}
        try await self.withTwoNodes { pool, _ in
            await #expect(throws: Abort.self) {
                try await pool.withTenantTransaction("acme") { connection in
                    _ = try QuotaStore.takeSubmitTokens(
                        5, ratePerSecond: 0.001, burst: 5, tenantID: "acme", on: connection)
                    throw Abort()
                }
            }
            let again = try await Self.take(5, rate: 0.001, burst: 5, on: pool)
            #expect(again == .allowed(tokensLeft: 0))
        }
    }

    @Test("more submissions at once than the burst are refused for good, naming submit_burst")
    func overBurst() async throws {
        try await self.withTwoNodes { pool, _ in
            let error = await #expect(throws: StoreError.self) {
                try await Self.take(11, rate: 100, burst: 10, on: pool)
            }
            #expect(error?.code == .quotaExceeded)
            #expect(error?.quota == QuotaViolation(quota: "submit_burst", limit: 10, current: 0, requested: 11))
            #expect(error?.message.contains("submit at most 10 at once") == true)
        }
    }

    @Test(
        "a rate, burst or count out of range is an invalid argument",
        arguments: [(1, 0.0, 10), (1, -1, 10), (1, .nan, 10), (1, .infinity, 10), (1, 5, 0), (0, 5, 10)]
            as [(Int, Double, Int64)]
    )
    func badArguments(count: Int, rate: Double, burst: Int64) async throws {
        try await self.withTwoNodes { pool, _ in
            let error = await #expect(throws: StoreError.self) {
                try await Self.take(count, rate: rate, burst: burst, on: pool)
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("expected") == true)
        }
    }

    @Test("a tenant that does not exist, or that the transaction may not see, has no bucket")
    func unknownTenant() async throws {
        try await self.withTwoNodes { pool, _ in
            let unknown = await #expect(throws: StoreError.self) {
                try await pool.withPlatformTransaction {
                    try QuotaStore.takeSubmitTokens(1, ratePerSecond: 1, burst: 1, tenantID: "initech", on: $0)
                }
            }
            #expect(unknown?.code == .notFound)

            let foreign = await #expect(throws: StoreError.self) {
                try await pool.withTenantTransaction("acme") {
                    try QuotaStore.takeSubmitTokens(1, ratePerSecond: 1, burst: 1, tenantID: "globex", on: $0)
                }
            }
            #expect(foreign?.code == .insufficientPrivilege)
            #expect(foreign?.message.contains("transaction for that tenant") == true)
        }
    }
}
