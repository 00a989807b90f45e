import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol

/// Turns a bearer token into the principal it names, or says why it cannot.
protocol BearerAuthenticator: Sendable {
    /// The principal of a verified token.
    ///
    /// - Throws: `UNAUTHENTICATED` naming the problem, never echoing the token.
    func principal(forBearer token: String) throws(CallStatus) -> Principal
}

/// Whether a tenant may make calls now.
protocol TenantAdmission: Sendable {
    /// `nil` when the tenant exists and is active; otherwise why its calls are refused.
    func refusal(for tenantID: String) async -> CallStatus?
}

/// Who is calling, for which tenant, with which method: what every service is handed.
struct CallContext: Sendable {
    /// The method called and its row of the permission table.
    let method: MethodDescriptor
    let policy: MethodPolicy
    /// The verified caller.
    let principal: Principal
    /// The caller's correlation id, or one made up for the call.
    let requestID: String
    /// The client's address, as `host:port`.
    let clientAddress: String
    /// The call's metadata: idempotency key and trace context (the credentials are checked).
    let metadata: V1.CallMetadata

    /// The tenant every operation of the call acts within; `nil` only for platform calls.
    var tenantID: String? { self.principal.tenantID }
}

/// Admits or refuses each call before any service sees it: authentication, the tenant's
/// state, and the permission table, in that order.
///
/// Every refusal is audited through `auditDenied`, in a transaction of its own.
struct CallGate: Sendable {
    /// The longest caller-chosen request id kept; longer ones are refused.
    static let maximumRequestIDLength = 128

    let authenticator: any BearerAuthenticator
    let tenants: any TenantAdmission
    let auditDenied: @Sendable (DeniedCall) async -> Void

    /// A refused call, as the audit log records it.
    struct DeniedCall: Sendable {
        var method: MethodDescriptor
        var principal: Principal?
        var requestID: String
        var clientAddress: String
        var status: CallStatus
    }

    /// The context to run the call in, or the status to refuse it with.
    func admit(_ call: IncomingCall) async -> Result<CallContext, CallStatus> {
        let requestID: String
        switch Self.requestID(call.metadata.requestID) {
        case .success(let id):
            requestID = id
        case .failure(let status):
            return .failure(status)
        }
        var denied = DeniedCall(
            method: call.method, principal: nil, requestID: requestID, clientAddress: call.peerAddress,
            status: CallStatus(code: .ok, message: ""))
        let outcome = await self.check(call, requestID: requestID, principal: &denied.principal)
        if case .failure(let status) = outcome {
            denied.status = status
            await self.auditDenied(denied)
        }
        return outcome
    }

    private func check(
        _ call: IncomingCall,
        requestID: String,
        principal found: inout Principal?
    ) async -> Result<CallContext, CallStatus> {
        guard let policy = MethodPolicy.of(call.method) else {
            return .failure(
                CallStatus(code: .permissionDenied, message: "\(call.method.fullName) has no permission rule"))
        }
        let principal: Principal
        do {
            principal = try self.authenticator.principal(forBearer: try Self.bearerToken(call.metadata.authorization))
        } catch {
            return .failure(error)
        }
        found = principal

        let claimed = call.metadata.tenantID
        if !claimed.isEmpty && claimed != principal.tenantID {
            return .failure(
                CallStatus(
                    code: .permissionDenied,
                    message: "the call names tenant '\(claimed)' but its token is for "
                        + (principal.tenantID.map { "tenant '\($0)'" } ?? "no tenant")
                        + "; the tenant always comes from the token"))
        }
        guard policy.permission.isGranted(to: principal.roles) else {
            return .failure(Self.missingPermission(policy.permission, method: call.method, roles: principal.roles))
        }
        if policy.needsTenant && principal.tenantID == nil {
            return .failure(
                CallStatus(
                    code: .permissionDenied,
                    message: "\(call.method.methodName) acts within a tenant, and the token names none; "
                        + "use a token with a tenant claim"))
        }
        if let tenantID = principal.tenantID, let refusal = await self.tenants.refusal(for: tenantID) {
            return .failure(refusal)
        }
        return .success(
            CallContext(
                method: call.method, policy: policy, principal: principal, requestID: requestID,
                clientAddress: call.peerAddress, metadata: call.metadata))
    }

    /// The token of an `authorization: Bearer <token>` value.
    static func bearerToken(_ authorization: String) throws(CallStatus) -> String {
        guard !authorization.isEmpty else {
            throw CallStatus(
                code: .unauthenticated,
                message: "the call carries no credentials; send the metadata authorization: Bearer <token>")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw CallStatus(
                code: .unauthenticated,
                message: "the authorization metadata must read 'Bearer <token>'; no other scheme is accepted")
        }
        return String(parts[1])
    }

    /// The caller's request id, checked, or a new one.
    static func requestID(_ given: String) -> Result<String, CallStatus> {
        if given.isEmpty {
            return .success(UUID().uuidString.lowercased())
        }
        guard given.utf8.count <= Self.maximumRequestIDLength,
            given.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7E })
        else {
            return .failure(
                CallStatus(
                    code: .invalidArgument,
                    message: "the request_id metadata must be 1 to \(Self.maximumRequestIDLength) printable ASCII "
                        + "characters without spaces; it has \(given.utf8.count) bytes"))
        }
        return .success(given)
    }

    private static func missingPermission(_ permission: Permission, method: MethodDescriptor, roles: Set<Role>)
        -> CallStatus
    {
        let holders = Role.allCases.filter { Permission.granted(to: $0).contains(permission) }.map(\.rawValue)
        let held = roles.isEmpty ? "no role" : "the roles " + roles.sorted().map(\.rawValue).joined(separator: ", ")
        return CallStatus(
            code: .permissionDenied,
            message: "\(method.methodName) needs the permission \(permission.rawValue), held by "
                + holders.joined(separator: ", ") + "; the token has \(held)")
    }
}
