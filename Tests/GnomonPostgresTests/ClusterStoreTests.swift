import Foundation
import GnomonCore
import GnomonStore
import GnomonTestSupport
import Testing

/// The queries behind membership, shard leases in batches and the upkeep leadership.
@Suite("Cluster store")
struct ClusterStoreTests {
    private func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await TestDatabase.with { database in
            try await database.withConnection(body)
        }
    }

    @Test("free shards are taken in the order given, up to the limit, each at a new epoch")
    func acquireInOrder() async throws {
        try await self.withConnection { connection in
            let taken = try ShardLeaseStore.acquire(
                candidates: [9, 2, 5, 7], limit: 3, node: "a", duration: .seconds(30), on: connection)
            #expect(taken.map(\.shard) == [2, 5, 9])
            #expect(taken.allSatisfy { $0.epoch == 1 && $0.remainingMilliseconds > 29_000 })

            // Current leases are never taken, not even by their holder.
            let again = try ShardLeaseStore.acquire(
                candidates: [9, 2, 7], limit: 3, node: "b", duration: .seconds(30), on: connection)
            #expect(again.map(\.shard) == [7])
            #expect(
                try ShardLeaseStore.acquire(
                    candidates: [2], limit: 1, node: "a", duration: .seconds(30), on: connection
                )
                .isEmpty)
            #expect(
                try ShardLeaseStore.acquire(candidates: [], limit: 5, node: "a", duration: .seconds(1), on: connection)
                    .isEmpty)
        }
    }

    @Test("a batch renewal keeps epochs and leaves out leases that lapsed or moved on")
    func renewBatch() async throws {
        try await self.withConnection { connection in
            let held = try ShardLeaseStore.acquire(
                candidates: [0, 1, 2], limit: 3, node: "a", duration: .seconds(30), on: connection)
            let short = try #require(
                try ShardLeaseStore.acquire(
                    candidates: [3], limit: 1, node: "a", duration: .milliseconds(20), on: connection
                ).first)
            usleep(60_000)
            let stolen = try #require(
                try ShardLeaseStore.acquire(
                    candidates: [3], limit: 1, node: "b", duration: .seconds(30), on: connection
                ).first)
            #expect(stolen.epoch == short.epoch + 1)

            var stale = held[1]
            stale.epoch -= 1
            let renewed = try ShardLeaseStore.renew(
                [held[0], stale, held[2], short], node: "a", duration: .seconds(60), on: connection)
            #expect(renewed.map(\.shard).sorted() == [0, 2])
            #expect(renewed.allSatisfy { $0.remainingMilliseconds > 59_000 })
            #expect(Set(renewed.map(\.epoch)) == [1])
            #expect(try ShardLeaseStore.renew([], node: "a", duration: .seconds(1), on: connection).isEmpty)
        }
    }

    @Test("a batch release frees only the leases held at the epochs named")
    func releaseBatch() async throws {
        try await self.withConnection { connection in
            let held = try ShardLeaseStore.acquire(
                candidates: [4, 5], limit: 2, node: "a", duration: .seconds(30), on: connection)
            var wrong = held[1]
            wrong.epoch += 5
            #expect(try ShardLeaseStore.release([held[0], wrong], node: "a", on: connection) == 1)
            #expect(try ShardLeaseStore.release([held[1]], node: "b", on: connection) == 0)

            let views = try ShardLeaseStore.views(on: connection)
            #expect(views.count == 16)
            #expect(views[4].owner == nil && views[4].isFree)
            #expect(views[5].owner == "a" && views[5].isCurrent)
            let retaken = try #require(
                try ShardLeaseStore.acquire(candidates: [4], limit: 1, node: "a", duration: .seconds(5), on: connection)
                    .first)
            // Released (epoch 2) and taken again (epoch 3): an old writer cannot come back.
            #expect(retaken.epoch == held[0].epoch + 2)
        }
    }

    @Test("live nodes are those with a heartbeat younger than the lifetime; re-registering restarts a node")
    func membership() async throws {
        try await self.withConnection { connection in
            try NodeRegistry.register(node: "b", address: "127.0.0.1:7443", version: "1.0", on: connection)
            try NodeRegistry.heartbeat(node: "a", on: connection)
            try connection.query(
                "UPDATE gnomon_nodes SET heartbeat_at = now() - interval '10 seconds' WHERE node_id = 'b'")
            #expect(try NodeRegistry.liveNodes(within: .seconds(5), on: connection) == ["a"])
            #expect(try NodeRegistry.liveNodes(within: .seconds(60), on: connection) == ["a", "b"])

            try NodeRegistry.heartbeat(node: "b", on: connection)
            #expect(try NodeRegistry.liveNodes(within: .seconds(5), on: connection) == ["a", "b"])
            let row = try #require(
                try connection.query("SELECT address, version FROM gnomon_nodes WHERE node_id = 'b'").first)
            #expect(row["address"] == "127.0.0.1:7443" && row["version"] == "1.0")

            try NodeRegistry.deregister(node: "a", on: connection)
            #expect(try NodeRegistry.liveNodes(within: .seconds(5), on: connection) == ["b"])
        }
    }

    @Test("only the current leader deletes gone nodes, and only those silent long enough")
    func deleteGone() async throws {
        try await self.withConnection { connection in
            for node in ["gone", "quiet", "leader"] {
                try NodeRegistry.heartbeat(node: node, on: connection)
            }
            try connection.query(
                "UPDATE gnomon_nodes SET heartbeat_at = now() - interval '1 hour' WHERE node_id = 'gone'")
            try connection.query(
                "UPDATE gnomon_nodes SET heartbeat_at = now() - interval '3 seconds' WHERE node_id = 'quiet'")
            let lease = try #require(
                try LeaderLeaseStore.acquire(node: "leader", duration: .seconds(30), on: connection))

            var stale = lease
            stale.epoch -= 1
            #expect(
                try NodeRegistry.deleteGone(olderThan: .seconds(10), leader: stale, node: "leader", on: connection)
                    .isEmpty)
            #expect(
                try NodeRegistry.deleteGone(olderThan: .seconds(10), leader: lease, node: "other", on: connection)
                    .isEmpty)
            #expect(
                try NodeRegistry.deleteGone(olderThan: .seconds(10), leader: lease, node: "leader", on: connection) == [
                    "gone"
                ])
            #expect(try NodeRegistry.liveNodes(within: .seconds(60), on: connection) == ["leader", "quiet"])
        }
    }

    @Test("one node leads at a time; the epoch grows when the leadership is released or lapses")
    func leadership() async throws {
        try await self.withConnection { connection in
            #expect(try LeaderLeaseStore.current(on: connection).leader == nil)
            let first = try #require(try LeaderLeaseStore.acquire(node: "a", duration: .seconds(30), on: connection))
            #expect(try LeaderLeaseStore.acquire(node: "b", duration: .seconds(30), on: connection) == nil)
            #expect(try LeaderLeaseStore.acquire(node: "a", duration: .seconds(30), on: connection) == nil)
            let renewed = try #require(
                try LeaderLeaseStore.renew(first, node: "a", duration: .seconds(60), on: connection))
            #expect(renewed.epoch == first.epoch && renewed.remainingMilliseconds > 59_000)
            #expect(
                try LeaderLeaseStore.current(on: connection)
                    == LeaderLeaseState(owner: "a", epoch: first.epoch, isCurrent: true))

            try LeaderLeaseStore.release(first, node: "a", on: connection)
            #expect(try LeaderLeaseStore.current(on: connection).leader == nil)
            let second = try #require(
                try LeaderLeaseStore.acquire(node: "b", duration: .milliseconds(20), on: connection))
            #expect(second.epoch > first.epoch)
            #expect(try LeaderLeaseStore.renew(first, node: "a", duration: .seconds(30), on: connection) == nil)

            usleep(60_000)
            let third = try #require(try LeaderLeaseStore.acquire(node: "b", duration: .seconds(30), on: connection))
            #expect(third.epoch == second.epoch + 1)
            #expect(try LeaderLeaseStore.renew(second, node: "b", duration: .seconds(30), on: connection) == nil)
        }
    }
}
