import GnomonCore
import Testing

@Suite("Shard balance")
struct ShardBalanceTests {
    /// Every shard's lease, owned as `owners` says and current unless the owner is `nil`.
    private static func leases(_ owners: [Int: String], shardCount: Int = 16) -> [ShardLeaseView] {
        (0..<shardCount).map { ShardLeaseView(shard: $0, owner: owners[$0], isCurrent: owners[$0] != nil) }
    }

    @Test("shares add up to the shard count, the remainder going to the first nodes by name")
    func fairShares() {
        let shares = ShardBalance.fairShares(shardCount: 16, nodes: ["c", "a", "b", "a"])
        #expect(shares.map(\.node) == ["a", "b", "c"])
        #expect(shares.map(\.share) == [6, 5, 5])
        #expect(ShardBalance.fairShares(shardCount: 16, nodes: ["x", "y"]).map(\.share) == [8, 8])
        #expect(ShardBalance.fairShares(shardCount: 2, nodes: ["a", "b", "c"]).map(\.share) == [1, 1, 0])
        #expect(ShardBalance.fairShares(shardCount: 16, nodes: []).isEmpty)
    }

    @Test("a lone node takes every free shard, starting from its preferred run")
    func loneNode() {
        let plan = ShardBalance.plan(
            for: "a", shardCount: 16, liveNodes: [], held: [], leases: Self.leases([:]))
        #expect(plan.fairShare == 16)
        #expect(plan.acquireLimit == 16)
        #expect(plan.acquire == Array(0..<16))
        #expect(plan.release.isEmpty)
    }

    @Test("a node over its share releases the shards furthest from its preferred run")
    func overShare() {
        let owners = Dictionary(uniqueKeysWithValues: (0..<16).map { ($0, "a") })
        let plan = ShardBalance.plan(
            for: "a", shardCount: 16, liveNodes: ["a", "b"], held: Set(0..<16), leases: Self.leases(owners))
        #expect(plan.fairShare == 8)
        #expect(Set(plan.release) == Set(8..<16))
        #expect(plan.acquire.isEmpty && plan.acquireLimit == 0)

        // The second node's preferred run is 8..<16: it gives up 0..<8 first.
        let second = ShardBalance.plan(
            for: "b", shardCount: 16, liveNodes: ["a", "b"], held: Set(0..<16), leases: Self.leases(owners))
        #expect(Set(second.release) == Set(0..<8))
    }

    @Test("a node under its share takes only free or expired shards, up to its share")
    func underShare() {
        var leases = Self.leases(Dictionary(uniqueKeysWithValues: (0..<12).map { ($0, "a") }))
        leases[3].isCurrent = false
        let plan = ShardBalance.plan(for: "b", shardCount: 16, liveNodes: ["a", "b"], held: [], leases: leases)
        #expect(plan.acquireLimit == 8)
        #expect(plan.acquire == [12, 13, 14, 15, 3])
        #expect(!plan.isBalanced)
    }

    @Test("the planning node counts itself live even when the list lacks it")
    func planningNodeCounts() {
        let plan = ShardBalance.plan(
            for: "b", shardCount: 16, liveNodes: ["a"], held: Set(8..<16), leases: Self.leases([:]))
        #expect(plan.fairShare == 8)
        #expect(plan.isBalanced)
    }

    @Test(
        "nodes acting on their own plans reach even shares within a few rounds, then stop moving",
        arguments: [1, 2, 3, 5, 7, 16, 20]
    )
    func convergence(nodeCount: Int) {
        let shardCount = 16
        let nodes = (0..<nodeCount).map { "node-\($0)" }
        // A lopsided start: the first node holds everything.
        var owners = Dictionary(uniqueKeysWithValues: (0..<shardCount).map { ($0, nodes[0]) })
        var moves: [Int] = []
        for round in 0..<8 {
            var moved = 0
            // A different order each round, standing for nodes whose rounds interleave.
            let rotated = nodes.indices.map { nodes[($0 + round) % nodeCount] }
            let order = round.isMultiple(of: 2) ? rotated : rotated.reversed()
            for node in order {
                let held = Set(owners.filter { $0.value == node }.keys)
                let plan = ShardBalance.plan(
                    for: node, shardCount: shardCount, liveNodes: nodes, held: held,
                    leases: Self.leases(owners, shardCount: shardCount))
                for shard in plan.release {
                    owners[shard] = nil
                    moved += 1
                }
                for shard in plan.acquire.prefix(plan.acquireLimit) {
                    owners[shard] = node
                    moved += 1
                }
            }
            moves.append(moved)
        }
        let shares = ShardBalance.fairShares(shardCount: shardCount, nodes: nodes)
        for (node, share) in shares {
            #expect(owners.values.filter { $0 == node }.count == share, "\(node) after \(moves)")
        }
        #expect(owners.count == shardCount)
        #expect(moves.suffix(5).allSatisfy { $0 == 0 }, "shards still moving: \(moves)")
    }

    @Test("when a node goes, the others take its shards and nothing else moves")
    func nodeGone() {
        let nodes = ["a", "b", "c"]
        var owners: [Int: String] = [:]
        for (index, shard) in (0..<16).enumerated() {
            owners[shard] = nodes[index % 3]
        }
        let before = owners
        // c is gone: its leases expire and the others see two live nodes.
        var leases = Self.leases(owners)
        for index in leases.indices where leases[index].owner == "c" {
            leases[index].isCurrent = false
        }
        for node in ["a", "b"] {
            let held = Set(owners.filter { $0.value == node }.keys)
            let plan = ShardBalance.plan(for: node, shardCount: 16, liveNodes: ["a", "b"], held: held, leases: leases)
            #expect(plan.release.isEmpty)
            for shard in plan.acquire.prefix(plan.acquireLimit) where owners[shard] == "c" {
                owners[shard] = node
                leases[shard].owner = node
                leases[shard].isCurrent = true
            }
        }
        #expect(owners.values.filter { $0 == "a" }.count == 8)
        #expect(owners.values.filter { $0 == "b" }.count == 8)
        #expect(before.filter { $0.value != "c" }.allSatisfy { owners[$0.key] == $0.value })
    }
}
