import GnomonAuth
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Writes the audit records of calls: with the change they record where there is one, in a
/// transaction of their own for calls that were refused or failed.
///
/// A record that cannot be written is logged (without token or payload) and the call's own
/// outcome stands: a refused call stays refused whether or not its record was written.
struct Auditor: Sendable {
    let pool: PostgresPool
    let logger: Logger

    /// Records a call in the transaction of its change, so both commit or neither does.
    func record(
        _ context: CallContext,
        resourceID: String,
        status: CallStatus,
        on connection: PostgresConnection
    ) throws {
        try AuditStore.appendAtCommit(Self.record(context, resourceID: resourceID, status: status), on: connection)
    }

    /// Records a call whose change did not happen, in a transaction of its own.
    func recordFailure(_ context: CallContext, resourceID: String, status: CallStatus) async {
        await self.append(Self.record(context, resourceID: resourceID, status: status))
    }

    /// Records a call the gate refused.
    func recordDenied(_ denied: CallGate.DeniedCall) async {
        let principal = denied.principal
        await self.append(
            AuditRecord(
                tenantID: principal?.tenantID,
                actor: principal?.subject ?? "",
                roles: principal?.roles.sorted().map(\.rawValue) ?? [],
                method: denied.method.fullName,
                resourceType: MethodPolicy.of(denied.method)?.resourceType ?? "",
                outcome: .denied,
                statusCode: Int(denied.status.code.rawValue),
                requestID: denied.requestID,
                clientAddress: denied.clientAddress))
    }

    private func append(_ record: AuditRecord) async {
        do {
            try await AuditStore.append(record, using: self.pool)
        } catch {
            self.logger.error(
                "cannot write an audit record",
                ["method": record.method, "outcome": record.outcome.rawValue, LogKey.error: "\(error)"])
        }
    }

    private static func record(_ context: CallContext, resourceID: String, status: CallStatus) -> AuditRecord {
        let outcome: AuditOutcome =
            switch status.code {
            case .ok: .succeeded
            case .permissionDenied, .unauthenticated: .denied
            default: .failed
            }
        return AuditRecord(
            tenantID: context.tenantID,
            actor: context.principal.subject,
            roles: context.principal.roles.sorted().map(\.rawValue),
            method: context.method.fullName,
            resourceType: context.policy.resourceType,
            resourceID: resourceID,
            outcome: outcome,
            statusCode: Int(status.code.rawValue),
            requestID: context.requestID,
            clientAddress: context.clientAddress)
    }
}
