import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Answers `gnomon.v1.AuditService`: a tenant admin lists their tenant's records, a platform
/// admin every tenant's.
struct AuditService: Sendable {
    private static let scope = "ListAuditRecords"
    let pool: PostgresPool
    let cursors: PageCursorSealer

    func list(_ request: V1.ListAuditRecordsRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.ListAuditRecordsResponse
    {
        var filter = AuditFilter()
        filter.actor = request.actor.isEmpty ? nil : request.actor
        filter.method = request.method.isEmpty ? nil : request.method
        filter.resourceID = request.resourceID.isEmpty ? nil : request.resourceID
        filter.outcome =
            switch request.outcome {
            case .succeeded: .succeeded
            case .denied: .denied
            case .failed: .failed
            default: nil
            }
        if request.afterUnixMs > 0 {
            filter.from = Date(timeIntervalSince1970: Double(request.afterUnixMs) / 1_000)
        }
        if request.beforeUnixMs > 0 {
            filter.before = Date(timeIntervalSince1970: Double(request.beforeUnixMs) / 1_000)
        }
        let limit = try Pages.size(request.page)
        let tenantID = context.tenantID
        let after = try Pages.position(request.page, cursors: self.cursors, scope: Self.scope, tenantID: tenantID)
            .flatMap { AuditCursor(token: String(decoding: $0, as: UTF8.self)) }
        let page: (entries: [AuditEntry], next: AuditCursor?)
        let chosen = filter
        do {
            if let tenantID {
                page = try await self.pool.withTenantTransaction(tenantID) {
                    try AuditStore.list(chosen, after: after, limit: limit, on: $0)
                }
            } else {
                page = try await self.pool.withPlatformTransaction {
                    try AuditStore.list(chosen, after: after, limit: limit, on: $0)
                }
            }
        } catch {
            throw CallStatus(error, doing: "listing audit records")
        }
        return V1.ListAuditRecordsResponse(
            records: page.entries.map(Self.message),
            nextPageToken: page.next.map {
                self.cursors.seal(Array($0.token.utf8), scope: Self.scope, tenantID: tenantID)
            } ?? "")
    }

    private static func message(_ outcome: AuditOutcome) -> V1.AuditOutcome {
        switch outcome {
        case .succeeded: return .succeeded
        case .denied: return .denied
        case .failed: return .failed
        }
    }

    private static func message(_ entry: AuditEntry) -> V1.AuditRecord {
        let record = entry.record
        return V1.AuditRecord(
            id: entry.id.uuidString.lowercased(),
            tenantID: record.tenantID ?? "",
            actor: record.actor,
            roles: record.roles,
            method: record.method,
            resourceType: record.resourceType,
            resourceID: record.resourceID,
            outcome: Self.message(record.outcome),
            statusCode: UInt32(clamping: record.statusCode),
            requestID: record.requestID,
            clientAddress: record.clientAddress,
            atUnixMs: Int64((entry.at.timeIntervalSince1970 * 1_000).rounded(.down)))
    }
}
