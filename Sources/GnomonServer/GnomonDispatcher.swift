import GnomonNetwork
import GnomonProtocol

/// Routes each call to the service that answers its method.
///
/// Methods whose service is not built yet answer `UNIMPLEMENTED`, saying so.
struct GnomonDispatcher: RPCDispatcher {
    let status: StatusService

    func unary(_ call: IncomingCall) async -> Result<[UInt8], CallStatus> {
        switch call.method {
        case .getServerStatus:
            return await Self.answer(call, as: V1.GetServerStatusRequest.self) { request in
                await self.status.getServerStatus(request)
            }

        default:
            return .failure(Self.unimplemented(call.method))
        }
    }

    func serverStreaming(_ call: IncomingCall, send: @escaping @Sendable ([UInt8]) async -> Bool) async -> CallStatus {
        Self.unimplemented(call.method)
    }

    /// Decodes the request, runs `body`, and encodes its response.
    private static func answer<Request: ProtoMessage, Response: ProtoMessage>(
        _ call: IncomingCall,
        as type: Request.Type,
        _ body: (Request) async throws(CallStatus) -> Response
    ) async -> Result<[UInt8], CallStatus> {
        let request: Request
        do {
            request = try Request(serializedBytes: call.payload)
        } catch {
            return .failure(
                CallStatus(
                    code: .invalidArgument,
                    message: "the request is not a valid \(Request.protoName): \(error.message)"
                )
            )
        }
        do {
            return .success(try await body(request).serializedBytes())
        } catch let error as CallStatus {
            return .failure(error)
        } catch {
            return .failure(CallStatus(code: .internal, message: "the response could not be encoded: \(error)"))
        }
    }

    private static func unimplemented(_ method: MethodDescriptor) -> CallStatus {
        CallStatus(code: .unimplemented, message: "\(method.fullName) is not implemented by this server yet")
    }
}
