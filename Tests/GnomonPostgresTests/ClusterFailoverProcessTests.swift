import Foundation
import Glibc
import GnomonStore
import GnomonTestSupport
import Testing

/// Two real `gnomond` processes sharing one database, one of them stopped with SIGSTOP.
@Suite("Cluster failover between processes", .serialized)
struct ClusterFailoverProcessTests {
    private static let leaseMessages: Set<String> = ["shard lease gained", "shard lease lost", "shard lease given up"]

    private static func leaseRecords(_ node: GnomondProcess) -> [[String: String]] {
        node.logRecords.filter { Self.leaseMessages.contains($0["message"] ?? "") }
    }

    @Test("a stopped node's shards move within the lease lifetime plus 2 s; continued, it drops them first")
    func stoppedNode() async throws {
        try await TestDatabase.with { database in
            let folders = try (0..<2).map { _ in try TestPostgres.makeTemporaryFolder() }
            defer {
                for folder in folders {
                    try? FileManager.default.removeItem(atPath: folder)
                }
            }
            let nodes = try zip(["a", "b"], folders).map { name, folder in
                try GnomondProcess(
                    arguments: [
                        "--database-url", database.connectionString, "--node-id", name, "--lease-ttl", "1500ms",
                    ],
                    directory: folder
                )
            }
            for node in nodes {
                _ = try await node.waitForLog("gnomond ready")
            }
            try await eventually(within: .seconds(10), "8 shards each") {
                try await database.currentOwners() == ["a": 8, "b": 8]
            }
            let before = try await database.leaseRows()
            let b = nodes[1]

            b.child.send(SIGSTOP)
            // Anything b wrote before it stopped has been read by now.
            try await Task.sleep(for: .milliseconds(200))
            let recordsBeforeContinue = Self.leaseRecords(b).count
            let took = try await eventually(within: .seconds(6), "a holds every shard") {
                try await database.currentOwners() == ["a": 16]
            }
            #expect(took <= .milliseconds(1_500) + .seconds(2))
            let after = try await database.leaseRows()
            for row in before where row.owner == "b" {
                #expect(after[row.shard].owner == "a")
                #expect(after[row.shard].epoch > row.epoch)
            }

            b.child.send(SIGCONT)
            try await eventually(within: .seconds(5), "b logs the loss of its 8 shards") {
                Self.leaseRecords(b).count >= recordsBeforeContinue + 8
            }
            let resumed = Self.leaseRecords(b).dropFirst(recordsBeforeContinue).prefix(8)
            #expect(resumed.allSatisfy { $0["message"] == "shard lease lost" && $0["reason"] == "deadline_passed" })

            try await eventually(within: .seconds(10), "8 shards each again") {
                try await database.currentOwners() == ["a": 8, "b": 8]
            }
            for node in nodes {
                node.child.send(SIGTERM)
                #expect(try await node.waitForExit() == 0)
            }
            #expect(try await database.leaseRows().allSatisfy { $0.owner == nil })
        }
    }
}
