import GnomonNetwork
import GnomonProtocol

extension RPCChannel {
    /// Calls `method` with `token`; the status of a refusal is thrown.
    func call<Response: ProtoMessage>(
        _ method: MethodDescriptor,
        _ request: some ProtoMessage,
        token: String?,
        tenantHeader: String = "",
        timeout: Duration = .seconds(20),
        as type: Response.Type = Response.self
    ) async throws -> Response {
        let answer = try await self.unary(
            method, payload: try request.serializedBytes(), metadata: Self.metadata(token, tenantHeader),
            deadline: .now + timeout)
        return try Response(serializedBytes: answer)
    }

    /// The status a call ends with: OK, or the refusal.
    func status(
        _ method: MethodDescriptor,
        _ request: some ProtoMessage = V1.GetServerStatusRequest(),
        token: String?,
        tenantHeader: String = "",
        timeout: Duration = .seconds(20)
    ) async -> CallStatus {
        do {
            _ = try await self.unary(
                method, payload: try request.serializedBytes(), metadata: Self.metadata(token, tenantHeader),
                deadline: .now + timeout)
            return CallStatus(code: .ok)
        } catch let status as CallStatus {
            return status
        } catch {
            return CallStatus(code: .internal, message: "\(error)")
        }
    }

    /// Opens a lease stream; its messages arrive in the stream's log as they come.
    func leaseStream(token: String, queues: [String], capacity: UInt32, worker: String = "w1") throws -> LeaseStream {
        LeaseStream(try self.leaseMessages(token: token, queues: queues, capacity: capacity, worker: worker))
    }

    /// Opens a lease stream and hands back its raw messages.
    func leaseMessages(
        token: String,
        queues: [String],
        capacity: UInt32,
        worker: String
    ) throws -> AsyncThrowingStream<[UInt8], any Error> {
        self.serverStreaming(
            .leaseJobs,
            payload: try V1.LeaseJobsRequest(workerID: worker, queues: queues, capacity: capacity).serializedBytes(),
            metadata: Self.metadata(token, ""))
    }

    private static func metadata(_ token: String?, _ tenantHeader: String) -> V1.CallMetadata {
        var metadata = V1.CallMetadata()
        if let token {
            metadata.authorization = "Bearer \(token)"
        }
        metadata.tenantID = tenantHeader
        return metadata
    }
}
