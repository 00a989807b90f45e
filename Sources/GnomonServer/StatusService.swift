public import Foundation
import GnomonCore
public import GnomonProtocol
public import GnomonStore

/// Answers `gnomon.v1.StatusService`: what this node is and how its database is doing.
public struct StatusService: Sendable {
    private let nodeID: String
    private let startedAt: Date
    private let database: ServerNode.Database
    private let pool: PostgresPool
    private let cluster: ClusterRole?

    /// Creates the service for a started node.
    ///
    /// - Parameters:
    ///   - nodeID: This node's name among the cluster's nodes.
    ///   - startedAt: When the node started.
    ///   - database: What the node connected to.
    ///   - pool: Connections to that database, for a live check on every call.
    ///   - cluster: The node's shards and leadership; without it, one node and no leader.
    public init(
        nodeID: String,
        startedAt: Date,
        database: ServerNode.Database,
        pool: PostgresPool,
        cluster: ClusterRole? = nil
    ) {
        self.nodeID = nodeID
        self.startedAt = startedAt
        self.database = database
        self.pool = pool
        self.cluster = cluster
    }

    /// The node's version, identity, uptime and database state, checked now.
    public func getServerStatus(_ request: V1.GetServerStatusRequest) async -> V1.GetServerStatusResponse {
        let now = Date()
        var response = V1.GetServerStatusResponse(
            version: GnomonVersion.current,
            nodeID: self.nodeID,
            startedAtUnixMs: Int64(self.startedAt.timeIntervalSince1970 * 1_000),
            uptimeMs: Int64(now.timeIntervalSince(self.startedAt) * 1_000),
            protocolName: GnomonVersion.protocolName
        )
        var database = V1.DatabaseStatus(
            state: .unreachable,
            serverVersion: self.database.serverVersion,
            embedded: self.database.isEmbedded,
            schemaVersion: UInt32(self.database.schemaVersion)
        )
        if let shardCount = try? await self.pool.withConnection({ connection in
            try connection.query("SELECT shard_count FROM gnomon_cluster").first?.int("shard_count")
        }) {
            database.state = .ready
            response.shards = V1.ShardStatus(shardCount: UInt32(shardCount), liveNodes: 1)
        }
        if let cluster = await self.cluster?.status(), cluster.shardCount > 0 {
            response.shards = V1.ShardStatus(
                shardCount: UInt32(cluster.shardCount),
                ownedByThisNode: UInt32(cluster.ownedShards.count),
                liveNodes: UInt32(max(cluster.liveNodes.count, 1)),
                thisNodeIsLeader: cluster.isLeader
            )
        }
        response.database = database
        return response
    }
}
