import Foundation
import GnomonServer
import GnomonStore
import GnomonTestSupport
import Testing

/// Several nodes standing for the upkeep leadership on one database.
@Suite("Upkeep leadership", .serialized)
struct UpkeepLeadershipTests {
    private static let timing = LeaseTiming(ttl: .milliseconds(1_500))

    /// Runs `body` with `count` candidates named n0, n1…, each with a pool of its own.
    private func withCandidates(
        _ count: Int,
        database: TestDatabase,
        _ body: ([UpkeepLeadership]) async throws -> Void
    ) async throws {
        let pools = (0..<count).map { _ in
            PostgresPool(connectionString: database.connectionString, maximumConnections: 2)
        }
        let candidates = pools.enumerated().map { index, pool in
            UpkeepLeadership(
                nodeID: "n\(index)",
                pool: pool,
                timing: Self.timing,
                duties: .init(timing: Self.timing, runsPartitionUpkeep: false)
            )
        }
        do {
            try await body(candidates)
        } catch {
            Issue.record(error)
        }
        for candidate in candidates {
            await candidate.stop()
        }
        for pool in pools {
            await pool.shutdown()
        }
    }

    private static func leaders(_ candidates: [UpkeepLeadership]) async -> [String] {
        var leaders: [String] = []
        for candidate in candidates where await candidate.isLeader {
            leaders.append(candidate.nodeID)
        }
        return leaders
    }

    private static func row(_ database: TestDatabase) async throws -> LeaderLeaseState {
        try await database.withConnection { try LeaderLeaseStore.current(on: $0) }
    }

    @Test("of three nodes exactly one leads, and it stays so")
    func oneLeader() async throws {
        try await TestDatabase.with { database in
            try await self.withCandidates(3, database: database) { candidates in
                for candidate in candidates {
                    await candidate.start()
                }
                let first = await Self.leaders(candidates)
                #expect(first.count == 1)
                for _ in 0..<6 {
                    try await Task.sleep(for: .milliseconds(250))
                    #expect(await Self.leaders(candidates) == first)
                }
                let row = try await Self.row(database)
                #expect(row.leader == first.first)
            }
        }
    }

    @Test("when the leader is paused another takes over after the lifetime, at a higher epoch")
    func failover() async throws {
        try await TestDatabase.with { database in
            try await self.withCandidates(2, database: database) { candidates in
                for candidate in candidates {
                    await candidate.start()
                }
                let leader = try #require(candidates.first { _ in true })
                #expect(await leader.isLeader)
                let old = try #require(await leader.currentLease())

                await leader.pause()
                let took = try await eventually(within: Self.timing.ttl + .seconds(3), "n1 leads") {
                    await candidates[1].isLeader
                }
                #expect(took <= Self.timing.ttl + .seconds(2))
                let row = try await Self.row(database)
                #expect(row.leader == "n1")
                #expect(row.epoch > old.epoch)

                // Resumed, the old leader knows at once that it no longer leads.
                await leader.resume()
                #expect(await !leader.isLeader)
                try await Task.sleep(for: .seconds(1))
                #expect(await Self.leaders(candidates) == ["n1"])
            }
        }
    }

    @Test("a leader stopping gracefully hands the leadership over without waiting for expiry")
    func gracefulHandover() async throws {
        try await TestDatabase.with { database in
            try await self.withCandidates(2, database: database) { candidates in
                for candidate in candidates {
                    await candidate.start()
                }
                #expect(await Self.leaders(candidates) == ["n0"])
                await candidates[0].stop()
                let took = try await eventually(within: .seconds(5), "n1 leads") {
                    await candidates[1].isLeader
                }
                #expect(took < Self.timing.ttl)
            }
        }
    }

    @Test("the leader deletes nodes gone for three lifetimes and keeps the others")
    func deletesGoneNodes() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                for node in ["ghost", "slow"] {
                    try NodeRegistry.heartbeat(node: node, on: connection)
                }
                try connection.query(
                    "UPDATE gnomon_nodes SET heartbeat_at = now() - interval '1 hour' WHERE node_id = 'ghost'")
                try connection.query(
                    "UPDATE gnomon_nodes SET heartbeat_at = now() - interval '2 seconds' WHERE node_id = 'slow'")
            }
            try await self.withCandidates(1, database: database) { candidates in
                await candidates[0].start()
                try await eventually(within: .seconds(3), "ghost deleted") {
                    let nodes = try await database.withConnection { connection in
                        try NodeRegistry.liveNodes(within: .seconds(86_400), on: connection)
                    }
                    return nodes == ["slow"]
                }
            }
        }
    }
}
