import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Reading, listing, cancelling and retrying a tenant's jobs.
///
/// Another tenant's job is `NOT_FOUND` exactly as a missing one is: row-level security hides
/// it, so the two cannot be told apart, by the message or otherwise.
extension JobService {
    private static let listScope = "ListJobs"

    func get(_ request: V1.GetJobRequest, _ context: CallContext) async throws(CallStatus) -> V1.GetJobResponse {
        let tenantID = try Self.tenant(context)
        let id = try JobSelectionValidation.jobID(request.jobID)
        let store = self.store
        let includeAttempts = request.includeAttempts
        do {
            return try await self.pool.withTenantTransaction(tenantID) { connection in
                let job = try store.get(id, on: connection)
                guard includeAttempts else {
                    return V1.GetJobResponse(job: job.message)
                }
                let (finished, running) = try store.attempts(of: id, on: connection)
                return V1.GetJobResponse(
                    job: job.message, attempts: finished.map(\.message) + (running.map { [$0.message] } ?? []))
            }
        } catch {
            throw CallStatus(error, doing: "reading the job")
        }
    }

    func list(_ request: V1.ListJobsRequest, _ context: CallContext) async throws(CallStatus) -> V1.ListJobsResponse {
        let tenantID = try Self.tenant(context)
        let filter = try JobSelectionValidation.filter(request)
        let limit = try Pages.size(request.page)
        var after: JobCursor?
        if let position = try Pages.position(
            request.page, cursors: self.cursors, scope: Self.listScope, tenantID: tenantID)
        {
            guard let cursor = JobCursor(token: String(decoding: position, as: UTF8.self)) else {
                throw CallStatus(
                    code: .invalidArgument,
                    message: "the page token is malformed; pass back the next_page_token of a previous page")
            }
            after = cursor
        }
        let store = self.store
        let start = after
        let page: (jobs: [JobRecord], next: JobCursor?)
        do {
            page = try await self.pool.withTenantTransaction(tenantID) {
                try store.list(filter, after: start, limit: limit, on: $0)
            }
        } catch {
            throw CallStatus(error, doing: "listing jobs")
        }
        return V1.ListJobsResponse(
            jobs: page.jobs.map(\.message),
            nextPageToken: page.next.map {
                self.cursors.seal(Array($0.token.utf8), scope: Self.listScope, tenantID: tenantID)
            } ?? "")
    }

    func cancel(_ request: V1.CancelJobRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.CancelJobResponse
    {
        let reason = request.reason
        let store = self.store
        let job = try await self.change(request.jobID, context, doing: "cancelling the job") {
            () throws(CallStatus) in
            guard reason.count <= JobStore.maximumCancelReasonLength else {
                throw JobSelectionValidation.invalid(
                    "reason", "must be at most \(JobStore.maximumCancelReasonLength) characters; got \(reason.count)")
            }
        } change: { _, id, connection in
            // The store tells the node streaming a running job's lease, when this commits.
            try store.cancel(id, reason: reason, on: connection)
        }
        return V1.CancelJobResponse(job: job.message)
    }

    func retry(_ request: V1.RetryJobRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.RetryJobResponse
    {
        let reset = request.resetAttempts
        let store = self.store
        let job = try await self.change(request.jobID, context, doing: "retrying the job") { tenantID, id, connection in
            let quotas = try TenantStore.quotas(for: tenantID, on: connection)
            let job = try store.retry(
                id, resetAttempts: reset, pendingLimit: quotas.maxPendingJobs > 0 ? quotas.maxPendingJobs : nil,
                on: connection)
            // Workers waiting on the queue look again at once.
            try connection.notify(
                JobNotifications.channel, payload: JobNotifications.payload(tenantID: tenantID, queue: job.queue))
            return job
        }
        return V1.RetryJobResponse(job: job.message)
    }

    /// Runs a change to one job and its audit record in one tenant transaction; a refused
    /// call, refused for its own fields too, is audited alone.
    ///
    /// - Parameters:
    ///   - jobID: The job's id as the request gave it.
    ///   - check: The request's other fields, checked before the transaction.
    ///   - change: The change, given the tenant, the job's id and the transaction.
    private func change(
        _ jobID: String,
        _ context: CallContext,
        doing action: String,
        check: () throws(CallStatus) -> Void = {},
        change: @escaping @Sendable (String, UUID, PostgresConnection) throws -> JobRecord
    ) async throws(CallStatus) -> JobRecord {
        let audit = self.audit
        var resourceID = String(jobID.prefix(64))
        do {
            let tenantID = try Self.tenant(context)
            let id = try JobSelectionValidation.jobID(jobID)
            resourceID = id.uuidString.lowercased()
            try check()
            let resource = resourceID
            return try await self.pool.withTenantTransaction(tenantID) { connection in
                let job = try change(tenantID, id, connection)
                try audit.record(context, resourceID: resource, status: CallStatus(code: .ok), on: connection)
                return job
            }
        } catch {
            let status = Self.status(error, doing: action)
            await audit.recordFailure(context, resourceID: resourceID, status: status)
            throw status
        }
    }
}
