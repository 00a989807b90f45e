import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Answers `gnomon.v1.QueueService`: a tenant's queues with their live counts; pausing one
/// stops workers leasing its jobs until it is resumed.
struct QueueService: Sendable {
    private static let scope = "ListQueues"
    let pool: PostgresPool
    let audit: Auditor
    let cursors: PageCursorSealer

    func list(_ request: V1.ListQueuesRequest, _ context: CallContext) async throws(CallStatus) -> V1.ListQueuesResponse
    {
        let tenantID = try Self.tenant(context)
        let limit = try Pages.size(request.page)
        let after = try Pages.position(request.page, cursors: self.cursors, scope: Self.scope, tenantID: tenantID)
            .map { String(decoding: $0, as: UTF8.self) }
        let page: (queues: [QueueRecord], nextAfter: String?)
        do {
            page = try await self.pool.withTenantTransaction(tenantID) {
                try QueueStore.list(tenantID: tenantID, after: after, limit: limit, on: $0)
            }
        } catch {
            throw CallStatus(error, doing: "listing queues")
        }
        return V1.ListQueuesResponse(
            queues: page.queues.map(Self.message),
            nextPageToken: page.nextAfter.map {
                self.cursors.seal(Array($0.utf8), scope: Self.scope, tenantID: tenantID)
            }
                ?? "")
    }

    func get(_ request: V1.GetQueueRequest, _ context: CallContext) async throws(CallStatus) -> V1.GetQueueResponse {
        let tenantID = try Self.tenant(context)
        let name = request.name
        let queue: QueueRecord?
        do {
            queue = try await self.pool.withTenantTransaction(tenantID) {
                try QueueStore.get(name, tenantID: tenantID, on: $0)
            }
        } catch {
            throw CallStatus(error, doing: "reading the queue")
        }
        guard let queue else {
            throw Self.missing(name)
        }
        return V1.GetQueueResponse(queue: Self.message(queue))
    }

    func pause(_ request: V1.PauseQueueRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.PauseQueueResponse
    {
        V1.PauseQueueResponse(queue: try await self.setPaused(true, name: request.name, context))
    }

    func resume(_ request: V1.ResumeQueueRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.ResumeQueueResponse
    {
        V1.ResumeQueueResponse(queue: try await self.setPaused(false, name: request.name, context))
    }

    private func setPaused(_ paused: Bool, name: String, _ context: CallContext) async throws(CallStatus) -> V1.Queue {
        let tenantID = try Self.tenant(context)
        let audit = self.audit
        let queue: QueueRecord?
        do {
            queue = try await self.pool.withTenantTransaction(tenantID) { connection -> QueueRecord? in
                guard let queue = try QueueStore.setPaused(paused, name: name, tenantID: tenantID, on: connection)
                else {
                    return nil
                }
                if !paused {
                    // Workers waiting on the queue look again at once.
                    try connection.notify(
                        JobNotifications.channel, payload: JobNotifications.payload(tenantID: tenantID, queue: name))
                }
                try audit.record(context, resourceID: name, status: CallStatus(code: .ok), on: connection)
                return queue
            }
        } catch {
            throw CallStatus(error, doing: paused ? "pausing the queue" : "resuming the queue")
        }
        guard let queue else {
            let status = Self.missing(name)
            await audit.recordFailure(context, resourceID: name, status: status)
            throw status
        }
        return Self.message(queue)
    }

    private static func tenant(_ context: CallContext) throws(CallStatus) -> String {
        guard let tenantID = context.tenantID else {
            throw CallStatus(
                code: .permissionDenied, message: "queues belong to a tenant; use a token with a tenant claim")
        }
        return tenantID
    }

    private static func missing(_ name: String) -> CallStatus {
        CallStatus(
            code: .notFound,
            message: "there is no queue '\(name.prefix(128))'; a queue exists once a job has been submitted to it")
    }

    private static func message(_ queue: QueueRecord) -> V1.Queue {
        V1.Queue(
            name: queue.name,
            tenantID: queue.tenantID,
            paused: queue.paused,
            stats: V1.QueueStats(
                pending: UInt64(queue.pending), running: UInt64(queue.running), retryWait: UInt64(queue.retryWait),
                dead: UInt64(queue.dead), oldestPendingAgeMs: queue.oldestPendingAgeMilliseconds),
            createdAtUnixMs: Int64(queue.createdAt.timeIntervalSince1970 * 1_000))
    }
}
