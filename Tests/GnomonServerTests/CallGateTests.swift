import GnomonAuth
import GnomonProtocol
import Synchronization
import Testing

@testable import GnomonNetwork
@testable import GnomonServer

/// Verifies nothing: maps fixed token strings to principals, for the gate's own logic.
private struct FixedTokens: BearerAuthenticator {
    let principals: [String: Principal]

    func principal(forBearer token: String) throws(CallStatus) -> Principal {
        guard let principal = self.principals[token] else {
            throw CallStatus(code: .unauthenticated, message: "the token's signature does not verify")
        }
        return principal
    }
}

private struct FixedTenants: TenantAdmission {
    let disabled: Set<String>

    func refusal(for tenantID: String) async -> CallStatus? {
        self.disabled.contains(tenantID)
            ? CallStatus(code: .permissionDenied, message: "tenant '\(tenantID)' is disabled") : nil
    }
}

private final class DeniedLog: Sendable {
    let calls = Mutex<[CallGate.DeniedCall]>([])
}

private func makeGate(_ log: DeniedLog) -> CallGate {
    CallGate(
        authenticator: FixedTokens(principals: [
            "viewer-a": Principal(tenantID: "acme", subject: "vera", roles: [.viewer]),
            "operator-a": Principal(tenantID: "acme", subject: "otto", roles: [.operator]),
            "worker-b": Principal(tenantID: "globex", subject: "w1", roles: [.worker]),
            "platform": Principal(tenantID: nil, subject: "root", roles: [.platformAdmin]),
            "admin-off": Principal(tenantID: "initech", subject: "ann", roles: [.admin]),
        ]),
        tenants: FixedTenants(disabled: ["initech"]),
        auditDenied: { denied in log.calls.withLock { $0.append(denied) } })
}

private func call(_ method: MethodDescriptor, token: String?, tenant: String = "", requestID: String = "")
    -> IncomingCall
{
    var metadata = V1.CallMetadata()
    if let token {
        metadata.authorization = "Bearer \(token)"
    }
    metadata.tenantID = tenant
    metadata.requestID = requestID
    return IncomingCall(
        method: method, metadata: metadata, payload: [], deadline: nil, peerAddress: "127.0.0.1:5000",
        peerCertificateSubject: nil)
}

@Suite("The call gate: authentication, tenant and permission before any service")
struct CallGateTests {
    @Test("an allowed call is admitted with its principal, tenant and a request id")
    func admitted() async throws {
        let log = DeniedLog()
        let context = try await makeGate(log).admit(call(.getJob, token: "viewer-a", requestID: "req-1")).get()
        #expect(context.tenantID == "acme")
        #expect(context.principal.subject == "vera")
        #expect(context.requestID == "req-1")
        #expect(context.policy.permission == .readJobs)
        #expect(log.calls.withLock { $0.isEmpty })
        let generated = try await makeGate(log).admit(call(.getJob, token: "viewer-a")).get()
        #expect(generated.requestID.count == 36)
    }

    @Test("no credentials, another scheme, or an unverifiable token is UNAUTHENTICATED, and audited")
    func unauthenticated() async {
        let log = DeniedLog()
        let gate = makeGate(log)
        var bad = call(.getJob, token: nil)
        var results = [await gate.admit(bad)]
        bad.metadata.authorization = "Basic dXNlcjpwYXNz"
        results.append(await gate.admit(bad))
        results.append(await gate.admit(call(.getJob, token: "forged")))
        for result in results {
            guard case .failure(let status) = result else {
                Issue.record("admitted: \(result)")
                continue
            }
            #expect(status.code == .unauthenticated)
            #expect(!status.message.contains("dXNlcjpwYXNz") && !status.message.contains("forged"))
        }
        #expect(log.calls.withLock { $0.map(\.status.code) } == [.unauthenticated, .unauthenticated, .unauthenticated])
        #expect(log.calls.withLock { $0.allSatisfy { $0.principal == nil && $0.clientAddress == "127.0.0.1:5000" } })
    }

    @Test("a viewer calling a mutating method is PERMISSION_DENIED naming the permission, and audited")
    func viewerMutating() async {
        let log = DeniedLog()
        let result = await makeGate(log).admit(call(.submitJob, token: "viewer-a"))
        guard case .failure(let status) = result else {
            Issue.record("admitted")
            return
        }
        #expect(status.code == .permissionDenied)
        #expect(status.message.contains("jobs.write") && status.message.contains("viewer"))
        #expect(log.calls.withLock { $0.first?.principal?.subject } == "vera")
    }

    @Test("a request naming another tenant than its token's is refused")
    func tenantMismatch() async {
        let log = DeniedLog()
        let result = await makeGate(log).admit(call(.getJob, token: "operator-a", tenant: "globex"))
        guard case .failure(let status) = result else {
            Issue.record("admitted")
            return
        }
        #expect(status.code == .permissionDenied)
        #expect(status.message.contains("'globex'") && status.message.contains("'acme'"))
        // Naming its own tenant is fine.
        #expect((try? await makeGate(log).admit(call(.getJob, token: "operator-a", tenant: "acme")).get()) != nil)
    }

    @Test("a platform admin cannot call tenant methods; a tenant admin cannot manage tenants")
    func platformSeparation() async {
        let log = DeniedLog()
        let gate = makeGate(log)
        guard case .failure(let status) = await gate.admit(call(.getJob, token: "platform")) else {
            Issue.record("platform admin read a job")
            return
        }
        #expect(status.code == .permissionDenied)
        #expect((try? await gate.admit(call(.createTenant, token: "platform")).get()) != nil)
        guard case .failure = await gate.admit(call(.createTenant, token: "operator-a")) else {
            Issue.record("an operator created a tenant")
            return
        }
    }

    @Test("a disabled tenant's calls are refused even with the right role")
    func disabledTenant() async {
        let log = DeniedLog()
        guard case .failure(let status) = await makeGate(log).admit(call(.getJob, token: "admin-off")) else {
            Issue.record("admitted")
            return
        }
        #expect(status.code == .permissionDenied)
        #expect(status.message.contains("disabled"))
    }

    @Test("a request id longer than 128 bytes or with spaces is refused")
    func badRequestID() async {
        let log = DeniedLog()
        for id in [String(repeating: "a", count: 129), "has space"] {
            guard case .failure(let status) = await makeGate(log).admit(call(.getJob, token: "viewer-a", requestID: id))
            else {
                Issue.record("admitted \(id)")
                continue
            }
            #expect(status.code == .invalidArgument)
        }
    }

    @Test("a worker can lease but not read jobs through the job service")
    func workerScope() async {
        let log = DeniedLog()
        let gate = makeGate(log)
        #expect((try? await gate.admit(call(.leaseJobs, token: "worker-b")).get()) != nil)
        guard case .failure = await gate.admit(call(.listJobs, token: "worker-b")) else {
            Issue.record("a worker listed jobs")
            return
        }
    }
}
