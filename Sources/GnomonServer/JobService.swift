import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Answers `gnomon.v1.JobService`: submitting jobs, one or a batch, within the tenant's quotas;
/// reading, listing, cancelling and retrying them (`JobService+Control.swift`).
struct JobService: Sendable {
    let pool: PostgresPool
    let store: JobStore
    let audit: Auditor
    let cursors: PageCursorSealer

    func submit(_ request: V1.SubmitJobRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.SubmitJobResponse
    {
        let tenantID = try Self.tenant(context)
        let quotas = try await self.quotas(tenantID)
        let validation = JobSpecValidation(maximumPayloadBytes: Self.payloadLimit(quotas), now: Date())
        let job = try validation.job(from: request.job ?? V1.JobSpec(), metadata: context.metadata).get()
        let inserted = try await self.insert([job], tenantID: tenantID, quotas: quotas, context: context)
        return V1.SubmitJobResponse(
            job: Self.message(job, inserted[0], tenantID: tenantID, spec: request.job), created: inserted[0].created)
    }

    func submitMany(_ request: V1.SubmitJobsRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.SubmitJobsResponse
    {
        guard (1...JobSpecValidation.maximumBatch).contains(request.jobs.count) else {
            throw CallStatus(
                code: .invalidArgument,
                message: "jobs must hold 1 to \(JobSpecValidation.maximumBatch) jobs; got \(request.jobs.count)")
        }
        let tenantID = try Self.tenant(context)
        let quotas = try await self.quotas(tenantID)
        let validation = JobSpecValidation(maximumPayloadBytes: Self.payloadLimit(quotas), now: Date())
        let checked = request.jobs.enumerated().map { index, spec in
            validation.job(from: spec, metadata: context.metadata, prefix: "jobs[\(index)]")
        }
        let valid = checked.compactMap { try? $0.get() }
        let inserted =
            valid.isEmpty ? [] : try await self.insert(valid, tenantID: tenantID, quotas: quotas, context: context)
        var next = inserted.makeIterator()
        var validIndex = 0
        let results = checked.enumerated().map { index, outcome -> V1.SubmitJobsResult in
            switch outcome {
            case .success:
                defer { validIndex += 1 }
                let job = next.next()!
                return V1.SubmitJobsResult(
                    created: job.created,
                    outcome: .job(Self.message(valid[validIndex], job, tenantID: tenantID, spec: request.jobs[index])))
            case .failure(let status):
                return V1.SubmitJobsResult(created: false, outcome: .error(V1.Status(status)))
            }
        }
        return V1.SubmitJobsResponse(results: results)
    }

    // MARK: - Submitting

    /// Takes the submission rate, then inserts the jobs, their pending-jobs quota and the
    /// audit record in one transaction.
    private func insert(
        _ jobs: [NewJob],
        tenantID: String,
        quotas: TenantQuotas,
        context: CallContext
    ) async throws(CallStatus) -> [InsertedJob] {
        try await self.takeRate(jobs.count, tenantID: tenantID, quotas: quotas, context: context)
        let store = self.store
        let audit = self.audit
        let pendingLimit = quotas.maxPendingJobs > 0 ? quotas.maxPendingJobs : nil
        do {
            return try await self.pool.withTenantTransaction(tenantID) { connection in
                try store.insert(jobs, tenantID: tenantID, pendingLimit: pendingLimit, on: connection) { inserted in
                    let queues = Set(jobs.map(\.queue)).sorted()
                    try QueueStore.ensure(queues, tenantID: tenantID, on: connection)
                    for queue in queues {
                        try connection.notify(
                            JobNotifications.channel,
                            payload: JobNotifications.payload(tenantID: tenantID, queue: queue))
                    }
                    let resource =
                        inserted.count == 1 ? inserted[0].id.uuidString.lowercased() : "\(inserted.count) jobs"
                    try audit.record(context, resourceID: resource, status: CallStatus(code: .ok), on: connection)
                }
            }
        } catch {
            let status = Self.status(error, doing: "submitting jobs")
            await audit.recordFailure(context, resourceID: "", status: status)
            throw status
        }
    }

    /// Takes `count` submissions from the tenant's rate bucket, in a short transaction of its own
    /// so that submissions do not queue behind one another on the bucket's row.
    private func takeRate(_ count: Int, tenantID: String, quotas: TenantQuotas, context: CallContext)
        async throws(CallStatus)
    {
        guard quotas.submitRatePerSecond > 0 else {
            return
        }
        let burst = max(quotas.submitBurst, Int64(quotas.submitRatePerSecond.rounded(.up)), 1)
        let decision: RateLimitDecision
        do {
            decision = try await self.pool.withTenantTransaction(tenantID) { connection in
                try QuotaStore.takeSubmitTokens(
                    count, ratePerSecond: quotas.submitRatePerSecond, burst: burst, tenantID: tenantID, on: connection)
            }
        } catch {
            throw Self.status(error, doing: "checking the submission rate")
        }
        if case .refused(let retryAfter, let available) = decision {
            let milliseconds =
                Int64((Double(retryAfter.components.seconds) * 1_000).rounded(.up))
                + retryAfter.components.attoseconds / 1_000_000_000_000_000
            let status = CallStatus(
                code: .resourceExhausted,
                message: "the tenant's submission rate of \(quotas.submitRatePerSecond)/s (burst \(burst)) is used up: "
                    + "\(Int(available)) of \(count) available; retry in \(milliseconds) ms",
                details: [
                    V1.StatusDetail(
                        detail: .quotaFailure(
                            V1.QuotaFailure(
                                quota: "submit_rate_per_second", limit: UInt64(burst), current: UInt64(available)))),
                    V1.StatusDetail(detail: .retryInfo(V1.RetryInfo(retryAfterMs: max(milliseconds, 1)))),
                ])
            await self.audit.recordFailure(context, resourceID: "", status: status)
            throw status
        }
    }

    private func quotas(_ tenantID: String) async throws(CallStatus) -> TenantQuotas {
        do {
            return try await self.pool.withTenantTransaction(tenantID) { try TenantStore.quotas(for: tenantID, on: $0) }
        } catch {
            throw Self.status(error, doing: "reading the tenant's quotas")
        }
    }

    private static func payloadLimit(_ quotas: TenantQuotas) -> Int64 {
        quotas.maxPayloadBytes > 0 ? quotas.maxPayloadBytes : JobSpecValidation.defaultMaximumPayloadBytes
    }

    static func tenant(_ context: CallContext) throws(CallStatus) -> String {
        guard let tenantID = context.tenantID else {
            throw CallStatus(
                code: .permissionDenied, message: "jobs belong to a tenant; use a token with a tenant claim")
        }
        return tenantID
    }

    /// A store failure as the client sees it, with the quota's details for a quota refusal.
    static func status(_ error: any Error, doing action: String) -> CallStatus {
        var status = CallStatus(error, doing: action)
        if let quota = (error as? StoreError)?.quota {
            status.details.append(
                V1.StatusDetail(
                    detail: .quotaFailure(
                        V1.QuotaFailure(
                            quota: quota.quota, limit: UInt64(max(quota.limit, 0)),
                            current: UInt64(max(quota.current, 0))))))
        }
        return status
    }

    private static func message(_ job: NewJob, _ inserted: InsertedJob, tenantID: String, spec: V1.JobSpec?)
        -> V1.Job
    {
        var message = V1.Job(
            id: inserted.id.uuidString.lowercased(),
            tenantID: tenantID,
            spec: spec,
            state: .pending)
        message.spec?.idempotencyKey = job.idempotencyKey ?? ""
        if let runAt = job.runAt {
            message.dueAtUnixMs = Int64(runAt.timeIntervalSince1970 * 1_000)
        }
        return message
    }
}
