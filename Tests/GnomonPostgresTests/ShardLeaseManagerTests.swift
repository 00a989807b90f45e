import Foundation
import GnomonCore
import GnomonProtocol
import GnomonServer
import GnomonStore
import GnomonTestSupport
import Synchronization
import Testing

/// Several lease managers in one process, each standing for a node, sharing one database.
@Suite("Shard lease manager", .serialized)
struct ShardLeaseManagerTests {
    /// Short leases: renewed every 500 ms, given up locally 300 ms before the database would.
    private static let timing = LeaseTiming(ttl: .milliseconds(1_500))

    @Test("a lone node holds every shard once started, and frees them all when it stops")
    func loneNode() async throws {
        try await TestDatabase.with { database in
            let node = TestNode("a", database: database, timing: Self.timing)
            try await node.manager.start()
            #expect(await node.owned() == Set(0..<16))
            #expect(try await database.currentOwners() == ["a": 16])
            #expect(node.recorder.events.count == 16)
            #expect(await node.manager.clusterView().liveNodes == ["a"])

            await node.shutdown()
            let rows = try await database.leaseRows()
            #expect(rows.allSatisfy { $0.owner == nil && !$0.isCurrent })
            let members = try await database.withConnection { connection in
                try NodeRegistry.liveNodes(within: .seconds(60), on: connection)
            }
            #expect(members.isEmpty)
            #expect(node.recorder.events.suffix(16).allSatisfy { $0.reason == .stopping })
        }
    }

    @Test("a second node joining gets half the shards within a few rounds, and then nothing moves")
    func joining() async throws {
        try await TestDatabase.with { database in
            // When a gives a shard up, its loop is stopped while the lease is still a's.
            let stillHeld = Mutex<[Int: Bool]>([:])
            let recorder = OwnershipRecorder { shard, reason in
                guard reason == .rebalanced else {
                    return
                }
                let row = try? await database.leaseRows()[shard]
                stillHeld.withLock { $0[shard] = row?.owner == "a" && row?.isCurrent == true }
            }
            let a = TestNode("a", database: database, timing: Self.timing, recorder: recorder)
            let b = TestNode("b", database: database, timing: Self.timing)
            try await a.manager.start()
            let before = try await database.leaseRows()
            try await b.manager.start()

            try await eventually(within: .seconds(5), "8 shards each") {
                let owners = try await database.currentOwners()
                return owners == ["a": 8, "b": 8]
            }
            let ownedByA = await a.owned()
            let ownedByB = await b.owned()
            #expect(ownedByA.count == 8 && ownedByB.count == 8)
            #expect(ownedByA.isDisjoint(with: ownedByB))
            // Every shard that moved did so at a higher epoch.
            let after = try await database.leaseRows()
            for shard in ownedByB {
                #expect(after[shard].epoch > before[shard].epoch)
            }
            // a stopped each shard's loop before giving it up.
            let released = a.recorder.events.filter { $0.reason == .rebalanced }.map(\.shard)
            #expect(Set(released) == ownedByB)
            #expect(stillHeld.withLock { $0 } == Dictionary(uniqueKeysWithValues: ownedByB.map { ($0, true) }))

            // Balanced, the shards stay where they are, at the same epochs.
            try await Task.sleep(for: Self.timing.renewalInterval * 4)
            let later = try await database.leaseRows()
            #expect(later.map(\.owner) == after.map(\.owner))
            #expect(later.map(\.epoch) == after.map(\.epoch))

            await b.shutdown()
            await a.shutdown()
        }
    }

    @Test("three nodes hold 6, 5 and 5 shards; when one stops, the other two hold 8 each")
    func threeNodes() async throws {
        try await TestDatabase.with { database in
            let nodes = ["a", "b", "c"].map { TestNode($0, database: database, timing: Self.timing) }
            for node in nodes {
                try await node.manager.start()
            }
            try await eventually(within: .seconds(6), "6, 5 and 5 shards") {
                try await database.currentOwners() == ["a": 6, "b": 5, "c": 5]
            }
            await nodes[0].shutdown()
            try await eventually(within: .seconds(4), "8 shards each") {
                try await database.currentOwners() == ["b": 8, "c": 8]
            }
            #expect(await nodes[1].owned().count == 8)
            #expect(await nodes[2].owned().count == 8)
            await nodes[1].shutdown()
            await nodes[2].shutdown()
        }
    }

    @Test("a node stopping gracefully hands its shards over without waiting for expiry")
    func gracefulStop() async throws {
        try await TestDatabase.with { database in
            let a = TestNode("a", database: database, timing: Self.timing)
            let b = TestNode("b", database: database, timing: Self.timing)
            try await a.manager.start()
            try await b.manager.start()
            try await eventually(within: .seconds(5), "8 shards each") {
                try await database.currentOwners() == ["a": 8, "b": 8]
            }

            await b.shutdown()
            let took = try await eventually(within: .seconds(5), "a holds all 16") {
                await a.owned().count == 16
            }
            #expect(took < Self.timing.ttl, "took \(took), as long as an expiry")
            #expect(try await database.currentOwners() == ["a": 16])
            await a.shutdown()
        }
    }

    @Test("a paused node's shards move after the lease lifetime at higher epochs; its old epochs write nothing")
    func pausedNode() async throws {
        try await TestDatabase.with { database in
            let a = TestNode("a", database: database, timing: Self.timing)
            let b = TestNode("b", database: database, timing: Self.timing)
            try await a.manager.start()
            try await b.manager.start()
            try await eventually(within: .seconds(5), "8 shards each") {
                try await database.currentOwners() == ["a": 8, "b": 8]
            }
            let store = try await database.withConnection { connection in
                let store = try JobStore.load(on: connection)
                _ = try store.insert(Array(repeating: NewJob(queue: "q"), count: 160), tenantID: "acme", on: connection)
                return store
            }
            let old = await b.manager.ownedLeases()
            #expect(old.count == 8)

            // SIGSTOP: nothing in b runs, nothing is released.
            await b.manager.pause()
            let eventsBeforeResume = b.recorder.events.count
            let took = try await eventually(within: Self.timing.ttl + .seconds(3), "a takes b's shards") {
                try await database.currentOwners() == ["a": 16]
            }
            #expect(took <= Self.timing.ttl + .seconds(2))
            #expect(await a.owned().count == 16)

            let rows = try await database.leaseRows()
            for lease in old {
                #expect(rows[lease.shard].epoch > lease.epoch)
                #expect(rows[lease.shard].owner == "a")
            }
            // Writes under b's old epochs change nothing.
            let (renewed, claimed, pending) = try await database.withConnection { connection in
                let renewed = try ShardLeaseStore.renew(old, node: "b", duration: .seconds(30), on: connection)
                var claimed = 0
                for lease in old {
                    claimed += try store.claim(shard: lease, node: "b", limit: 100, worker: "w", on: connection).count
                }
                let pending = try connection.query(
                    "SELECT count(*) AS n FROM gnomon_jobs WHERE state = 'pending' AND shard = ANY($1::integer[])",
                    [try PostgresArray.literal(values: old.map(\.shard))]
                ).first?.int("n")
                return (renewed, claimed, pending)
            }
            #expect(renewed.isEmpty)
            #expect(claimed == 0)
            #expect(pending ?? 0 > 0)

            // SIGCONT: before anything else, b counts none of its old leases.
            await b.manager.resume()
            #expect(await b.manager.ownedLeases().isEmpty)
            for lease in old {
                #expect(await b.manager.currentLease(of: lease.shard) == nil)
            }
            try await eventually(within: .seconds(2), "b hears it lost its 8 shards") {
                b.recorder.events.count >= eventsBeforeResume + 8
            }
            let afterResume = b.recorder.events.dropFirst(eventsBeforeResume).prefix(8)
            #expect(afterResume.allSatisfy { $0.epoch == nil && $0.reason == .deadlinePassed })
            #expect(Set(afterResume.map(\.shard)) == Set(old.map(\.shard)))

            // b comes back as a node and gets its share again.
            try await eventually(within: .seconds(6), "8 shards each again") {
                try await database.currentOwners() == ["a": 8, "b": 8]
            }
            await b.shutdown()
            await a.shutdown()
        }
    }

    @Test("a node that cannot renew stops acting on its shards before the database lets them go")
    func localDeadline() async throws {
        try await TestDatabase.with { database in
            let timing = LeaseTiming(ttl: .seconds(2))
            let a = TestNode("a", database: database, timing: timing)
            try await a.manager.start()
            #expect(await a.owned().count == 16)

            await a.manager.stopRenewing()
            try await eventually(within: .seconds(4), "a gives every shard up") {
                a.recorder.events.filter { $0.reason == .deadlinePassed }.count == 16
            }
            #expect(await a.manager.ownedLeases().isEmpty)
            let rows = try await database.leaseRows()
            let losses = a.recorder.events.filter { $0.reason == .deadlinePassed }
            for loss in losses {
                let row = rows[loss.shard]
                #expect(row.owner == "a")
                // Stopped at least 300 ms before the database would let another node in.
                #expect(
                    loss.atUnixMilliseconds + 300 < row.expiresAtUnixMilliseconds,
                    "shard \(loss.shard) lost at \(loss.atUnixMilliseconds), expiring \(row.expiresAtUnixMilliseconds)")
            }
            await a.shutdown()
        }
    }

    @Test("the node's shards and leadership appear in the server status")
    func status() async throws {
        try await TestDatabase.with { database in
            let role = ClusterRole(
                nodeID: "solo", connectionString: database.connectionString, timing: Self.timing, logger: .disabled)
            try await role.start(address: "127.0.0.1:7443")
            try await database.withPool { pool in
                let service = StatusService(
                    nodeID: role.nodeID,
                    startedAt: Date(),
                    database: ServerNode.Database(isEmbedded: false, serverVersion: "", schemaVersion: 9),
                    pool: pool,
                    cluster: role
                )
                let response = await service.getServerStatus(.init())
                #expect(response.shards?.shardCount == 16)
                #expect(response.shards?.ownedByThisNode == 16)
                #expect(response.shards?.liveNodes == 1)
                #expect(response.shards?.thisNodeIsLeader == true)
            }
            await role.stop()
        }
    }
}
