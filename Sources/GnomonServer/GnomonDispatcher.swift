import GnomonNetwork
import GnomonProtocol

/// Admits each call through the gate, then routes it to the service that answers its method.
///
/// Methods whose service is not built yet answer `UNIMPLEMENTED` after the gate, saying so:
/// a caller learns that a method is missing only once it may call it.
struct GnomonDispatcher: RPCDispatcher {
    let gate: CallGate
    let status: StatusService
    let tenants: TenantService
    let audit: AuditService
    let jobs: JobService
    let workers: WorkerService
    let queues: QueueService

    func unary(_ call: IncomingCall) async -> Result<[UInt8], CallStatus> {
        let context: CallContext
        switch await self.gate.admit(call) {
        case .success(let admitted):
            context = admitted
        case .failure(let status):
            return .failure(status)
        }
        switch call.method {
        case .getServerStatus:
            return await Self.answer(call) { (request: V1.GetServerStatusRequest) in
                await self.status.getServerStatus(request)
            }
        case .submitJob:
            return await Self.answer(call) { try await self.jobs.submit($0, context) }
        case .submitJobs:
            return await Self.answer(call) { try await self.jobs.submitMany($0, context) }
        case .heartbeat:
            return await Self.answer(call) { try await self.workers.heartbeat($0, context) }
        case .completeAttempt:
            return await Self.answer(call) { try await self.workers.complete($0, context) }
        case .failAttempt:
            return await Self.answer(call) { try await self.workers.fail($0, context) }
        case .listQueues:
            return await Self.answer(call) { try await self.queues.list($0, context) }
        case .getQueue:
            return await Self.answer(call) { try await self.queues.get($0, context) }
        case .pauseQueue:
            return await Self.answer(call) { try await self.queues.pause($0, context) }
        case .resumeQueue:
            return await Self.answer(call) { try await self.queues.resume($0, context) }
        case .createTenant:
            return await Self.answer(call) { try await self.tenants.create($0, context) }
        case .updateTenant:
            return await Self.answer(call) { try await self.tenants.update($0, context) }
        case .disableTenant:
            return await Self.answer(call) { try await self.tenants.disable($0, context) }
        case .getTenant:
            return await Self.answer(call) { try await self.tenants.get($0, context) }
        case .listTenants:
            return await Self.answer(call) { try await self.tenants.list($0, context) }
        case .getQuotas:
            return await Self.answer(call) { try await self.tenants.getQuotas($0, context) }
        case .setQuotas:
            return await Self.answer(call) { try await self.tenants.setQuotas($0, context) }
        case .listAuditRecords:
            return await Self.answer(call) { try await self.audit.list($0, context) }
        default:
            return .failure(Self.unimplemented(call.method))
        }
    }

    func serverStreaming(_ call: IncomingCall, send: @escaping @Sendable ([UInt8]) async -> Bool) async -> CallStatus {
        let context: CallContext
        switch await self.gate.admit(call) {
        case .success(let admitted):
            context = admitted
        case .failure(let status):
            return status
        }
        switch call.method {
        case .leaseJobs:
            guard let request = try? V1.LeaseJobsRequest(serializedBytes: call.payload) else {
                return CallStatus(
                    code: .invalidArgument, message: "the request is not a valid gnomon.v1.LeaseJobsRequest")
            }
            return await self.workers.lease(request, context, send: send)
        default:
            return Self.unimplemented(call.method)
        }
    }

    /// Decodes the request, runs `body`, and encodes its response.
    private static func answer<Request: ProtoMessage, Response: ProtoMessage>(
        _ call: IncomingCall,
        _ body: (Request) async throws -> Response
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
