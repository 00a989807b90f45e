import Foundation
import GnomonProtocol

/// The answer of `gnomon status`, for people or for scripts.
struct StatusReport {
    let status: V1.GetServerStatusResponse

    init(_ status: V1.GetServerStatusResponse) {
        self.status = status
    }

    func render(json: Bool) -> String {
        json ? self.json() : self.text()
    }

    private var databaseState: String {
        switch self.status.database?.state ?? .unspecified {
        case .ready: return "ready"
        case .migrating: return "migrating"
        case .unreachable: return "unreachable"
        default: return "unknown"
        }
    }

    private func text() -> String {
        let database = self.status.database
        let uptime = Duration.milliseconds(self.status.uptimeMs)
        return [
            "version   \(self.status.version) (\(self.status.protocolName))",
            "node      \(self.status.nodeID)",
            "uptime    \(Self.describe(uptime))",
            "database  \(self.databaseState), PostgreSQL \(database?.serverVersion ?? "?")"
                + ", schema \(database?.schemaVersion ?? 0)" + ((database?.embedded ?? false) ? ", embedded" : ""),
            "shards    \(self.shardsLine)",
        ].joined(separator: "\n")
    }

    /// Such as `16, 8 owned here, 2 live nodes, upkeep leader`.
    private var shardsLine: String {
        let shards = self.status.shards ?? V1.ShardStatus()
        let nodes = shards.liveNodes == 1 ? "1 live node" : "\(shards.liveNodes) live nodes"
        return "\(shards.shardCount), \(shards.ownedByThisNode) owned here, \(nodes)"
            + (shards.thisNodeIsLeader ? ", upkeep leader" : "")
    }

    private func json() -> String {
        let object: [String: Any] = [
            "version": self.status.version,
            "protocol": self.status.protocolName,
            "node_id": self.status.nodeID,
            "uptime_ms": self.status.uptimeMs,
            "database": [
                "state": self.databaseState,
                "server_version": self.status.database?.serverVersion ?? "",
                "schema_version": self.status.database?.schemaVersion ?? 0,
                "embedded": self.status.database?.embedded ?? false,
            ],
            "shard_count": self.status.shards?.shardCount ?? 0,
            "shards_owned": self.status.shards?.ownedByThisNode ?? 0,
            "live_nodes": self.status.shards?.liveNodes ?? 0,
            "upkeep_leader": self.status.shards?.thisNodeIsLeader ?? false,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private static func describe(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds < 60 {
            return "\(seconds)s"
        }
        if seconds < 3_600 {
            return "\(seconds / 60)m \(seconds % 60)s"
        }
        return "\(seconds / 3_600)h \(seconds % 3_600 / 60)m"
    }
}
