import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Answers `gnomon.v1.DeadLetterService`: a tenant's dead jobs, listed with the attempt that
/// killed them, and redriven back to pending, by id or by queue and labels, within the
/// tenant's pending-jobs quota.
struct DeadLetterService: Sendable {
    private static let scope = "ListDeadLetters"
    /// A day short of a year: the longest a redrive may put its jobs off.
    static let maximumDelayMilliseconds: Int64 = 366 * 86_400_000

    let pool: PostgresPool
    let store: JobStore
    let audit: Auditor
    let cursors: PageCursorSealer

    func list(_ request: V1.ListDeadLettersRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.ListDeadLettersResponse
    {
        let tenantID = try JobService.tenant(context)
        let queue = try JobSelectionValidation.queue(request.queue)
        let labels = try JobSelectionValidation.labels(request.labels)
        let limit = try Pages.size(request.page)
        var after: DeadLetterCursor?
        if let position = try Pages.position(request.page, cursors: self.cursors, scope: Self.scope, tenantID: tenantID)
        {
            guard let cursor = DeadLetterCursor(token: String(decoding: position, as: UTF8.self)) else {
                throw CallStatus(
                    code: .invalidArgument,
                    message: "the page token is malformed; pass back the next_page_token of a previous page")
            }
            after = cursor
        }
        let start = after
        let page: (deadLetters: [DeadLetter], next: DeadLetterCursor?)
        do {
            page = try await self.pool.withTenantTransaction(tenantID) {
                try DeadLetterStore.list(queue: queue, labels: labels, after: start, limit: limit, on: $0)
            }
        } catch {
            throw CallStatus(error, doing: "listing dead letters")
        }
        return V1.ListDeadLettersResponse(
            deadLetters: page.deadLetters.map(Self.message),
            nextPageToken: page.next.map {
                self.cursors.seal(Array($0.token.utf8), scope: Self.scope, tenantID: tenantID)
            } ?? "")
    }

    func redrive(_ request: V1.RedriveDeadLettersRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.RedriveDeadLettersResponse
    {
        let audit = self.audit
        do {
            let tenantID = try JobService.tenant(context)
            let (selection, limit, delay) = try Self.redrive(request)
            let reset = request.resetAttempts
            let store = self.store
            let outcome = try await self.pool.withTenantTransaction(tenantID) { connection in
                let quotas = try TenantStore.quotas(for: tenantID, on: connection)
                let outcome = try DeadLetterStore.redrive(
                    selection, tenantID: tenantID, limit: limit, resetAttempts: reset, delay: delay,
                    pendingLimit: quotas.maxPendingJobs > 0 ? quotas.maxPendingJobs : nil, on: connection)
                // Workers waiting on these queues look again at once, or learn the jobs' due time.
                for queue in try store.queues(ofLive: outcome.jobIDs, on: connection) {
                    try connection.notify(
                        JobNotifications.channel, payload: JobNotifications.payload(tenantID: tenantID, queue: queue))
                }
                try audit.record(
                    context, resourceID: Self.resource(outcome.jobIDs), status: CallStatus(code: .ok), on: connection)
                return outcome
            }
            return V1.RedriveDeadLettersResponse(
                jobIDs: outcome.jobIDs.map { $0.uuidString.lowercased() }, more: outcome.more)
        } catch {
            let status = JobService.status(error, doing: "redriving dead letters")
            await audit.recordFailure(context, resourceID: "", status: status)
            throw status
        }
    }

    /// What a redrive request selects, how many jobs it moves at most, and how long after now
    /// they are due.
    private static func redrive(_ request: V1.RedriveDeadLettersRequest) throws(CallStatus)
        -> (DeadLetterSelection, Int, Duration)
    {
        let maximum = DeadLetterStore.maximumRedriveCount
        guard request.jobIDs.count <= maximum else {
            throw JobSelectionValidation.invalid(
                "job_ids", "may name at most \(maximum) jobs per call; got \(request.jobIDs.count)")
        }
        var ids: [UUID] = []
        for (index, text) in request.jobIDs.enumerated() {
            ids.append(try JobSelectionValidation.jobID(text, field: "job_ids[\(index)]"))
        }
        guard request.limit <= maximum else {
            throw JobSelectionValidation.invalid(
                "limit", "must be 1 to \(maximum), or 0 for \(maximum); got \(request.limit)")
        }
        guard (0...Self.maximumDelayMilliseconds).contains(request.delayMs) else {
            throw JobSelectionValidation.invalid(
                "delay_ms", "must be 0 to \(Self.maximumDelayMilliseconds) (366 days); got \(request.delayMs)")
        }
        let selection = DeadLetterSelection(
            jobIDs: ids,
            queue: try JobSelectionValidation.queue(request.queue),
            labels: try JobSelectionValidation.labels(request.labels))
        let limit = request.limit == 0 ? maximum : Int(request.limit)
        return (selection, limit, .milliseconds(request.delayMs))
    }

    /// The audit record's resource: the one job, or how many there were.
    private static func resource(_ ids: [UUID]) -> String {
        ids.count == 1 ? ids[0].uuidString.lowercased() : "\(ids.count) jobs"
    }

    private static func message(_ letter: DeadLetter) -> V1.DeadLetter {
        V1.DeadLetter(
            job: letter.job.message,
            lastAttempt: letter.lastAttempt.message,
            deadAtUnixMs: letter.deadAt.unixMilliseconds,
            expiresAtUnixMs: letter.expiresAt.unixMilliseconds)
    }
}
