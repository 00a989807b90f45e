import Foundation
import GnomonCore
import GnomonNetwork
import GnomonProtocol

/// Answers `GetServerStatus` from memory, so the benchmark's calls measure the transport alone.
///
/// The request is decoded and a response encoded on every call, as the real dispatcher does;
/// only the database check that the real `StatusService` makes is left out.
struct InMemoryStatusDispatcher: RPCDispatcher {
    private let nodeID = "gnomon-bench-\(getpid())"
    private let startedAt = Date()

    /// Answers `GetServerStatus`, and `UNIMPLEMENTED` for every other method.
    func unary(_ call: IncomingCall) async -> Result<[UInt8], CallStatus> {
        guard call.method == .getServerStatus else {
            return .failure(Self.unimplemented(call.method))
        }
        do {
            _ = try V1.GetServerStatusRequest(serializedBytes: call.payload)
            return .success(try self.status().serializedBytes())
        } catch {
            return .failure(CallStatus(code: .invalidArgument, message: "GetServerStatus failed: \(error)"))
        }
    }

    /// Refuses every streaming method: the benchmark makes unary calls only.
    func serverStreaming(_ call: IncomingCall, send: @escaping @Sendable ([UInt8]) async -> Bool) async -> CallStatus {
        Self.unimplemented(call.method)
    }

    private func status() -> V1.GetServerStatusResponse {
        let now = Date()
        var response = V1.GetServerStatusResponse(
            version: GnomonVersion.current,
            nodeID: self.nodeID,
            startedAtUnixMs: Int64(self.startedAt.timeIntervalSince1970 * 1_000),
            uptimeMs: Int64(now.timeIntervalSince(self.startedAt) * 1_000),
            protocolName: GnomonVersion.protocolName
        )
        response.database = V1.DatabaseStatus(
            state: .ready, serverVersion: "in memory", embedded: true, schemaVersion: 1)
        response.shards = V1.ShardStatus(shardCount: 16, liveNodes: 1)
        return response
    }

    private static func unimplemented(_ method: MethodDescriptor) -> CallStatus {
        CallStatus(code: .unimplemented, message: "\(method.fullName) is not served by the benchmark's server")
    }
}
