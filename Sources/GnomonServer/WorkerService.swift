import Foundation
import GnomonAuth
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Answers `gnomon.v1.WorkerService`: lease streams that push due jobs to workers, and the
/// heartbeats and outcomes of their attempts, each naming its lease token.
struct WorkerService: Sendable {
    static let maximumQueues = 32
    static let maximumCapacity: UInt32 = 1_000
    static let defaultCapacity: UInt32 = 10

    let pool: PostgresPool
    let store: JobStore
    let notifications: JobNotifications
    let audit: Auditor
    let logger: Logger

    // MARK: - Lease stream

    /// Pushes due jobs of the worker's queues, never more running at once than its capacity,
    /// until the worker goes away or the call is cancelled.
    func lease(
        _ request: V1.LeaseJobsRequest,
        _ context: CallContext,
        send: @escaping @Sendable ([UInt8]) async -> Bool
    ) async -> CallStatus {
        guard let tenantID = context.tenantID else {
            return CallStatus(code: .permissionDenied, message: "a worker's token must name its tenant")
        }
        if let problem = Self.problem(with: request) {
            return problem
        }
        let queues = Array(Set(request.queues)).sorted()
        let capacity = Int(request.capacity == 0 ? Self.defaultCapacity : request.capacity)
        let worker = request.workerID.isEmpty ? "worker-\(UUID().uuidString.lowercased())" : request.workerID
        let store = self.store
        while !Task.isCancelled {
            if self.notifications.isStopped {
                return CallStatus(code: .unavailable, message: "the server is shutting down; reconnect to another node")
            }
            let claimed: [ClaimedJob]
            let nextDue: Date?
            do {
                (claimed, nextDue) = try await self.pool.withTenantTransaction(tenantID) { connection in
                    let running = try Self.running(tenantID: tenantID, worker: worker, on: connection)
                    let quotas = try TenantStore.quotas(for: tenantID, on: connection)
                    let runLimit = quotas.maxConcurrentRuns > 0 ? quotas.maxConcurrentRuns : nil
                    let tenantRoom = try QuotaStore.runningRoom(limit: runLimit, tenantID: tenantID, on: connection)
                    let room = Int(min(Int64(capacity - running), tenantRoom))
                    let jobs =
                        room > 0
                        ? try store.claimForWorker(
                            tenantID: tenantID, queues: queues, jobTypes: request.jobTypes, limit: room,
                            worker: worker, on: connection)
                        : []
                    if !jobs.isEmpty {
                        try QuotaStore.takeRunningJobs(
                            Int64(jobs.count), limit: runLimit, tenantID: tenantID, on: connection)
                    }
                    let more = room - jobs.count > 0
                    return (
                        jobs, more ? try store.nextDueTime(tenantID: tenantID, queues: queues, on: connection) : nil
                    )
                }
            } catch {
                if Task.isCancelled {
                    break
                }
                self.logger.warning("a lease stream could not claim jobs", [LogKey.error: "\(error)"])
                await self.notifications.wait(tenantID: tenantID, queues: Set(queues), until: .now + .seconds(1))
                continue
            }
            for job in claimed {
                let message = V1.LeaseStreamMessage(event: .leased(Self.leased(job)))
                guard let bytes = try? message.serializedBytes(), await send(bytes) else {
                    // The stream ended: these attempts run out their leases and are retried.
                    return CallStatus(code: .cancelled, message: "the lease stream ended")
                }
            }
            if !claimed.isEmpty {
                // There may be more: look again before waiting.
                continue
            }
            await self.notifications.wait(
                tenantID: tenantID, queues: Set(queues), until: nextDue.map(Self.instant(for:)))
        }
        return CallStatus(code: .cancelled, message: "the lease stream was cancelled")
    }

    private static func problem(with request: V1.LeaseJobsRequest) -> CallStatus? {
        if request.queues.isEmpty || request.queues.count > Self.maximumQueues {
            return CallStatus(
                code: .invalidArgument,
                message: "queues must name 1 to \(Self.maximumQueues) queues; got \(request.queues.count)")
        }
        if let bad = request.queues.first(where: { !JobSpecValidation.isValidQueue($0) }) {
            return CallStatus(
                code: .invalidArgument,
                message:
                    "queue '\(bad.prefix(40))' is not a queue name: 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', '-'"
            )
        }
        if request.capacity > Self.maximumCapacity {
            return CallStatus(
                code: .invalidArgument,
                message: "capacity must be 1 to \(Self.maximumCapacity), or 0 for \(Self.defaultCapacity); "
                    + "got \(request.capacity)")
        }
        if request.workerID.utf8.count > 128 || request.jobTypes.count > 32 {
            return CallStatus(
                code: .invalidArgument, message: "worker_id must be at most 128 bytes and job_types at most 32 entries")
        }
        return nil
    }

    /// Attempts of this worker that are running now.
    private static func running(tenantID: String, worker: String, on connection: PostgresConnection) throws -> Int {
        try connection.query(
            "SELECT count(*)::int AS n FROM gnomon_jobs WHERE tenant_id = $1 AND worker_id = $2 AND state = 'running'",
            [tenantID, worker]
        ).first?.int("n") ?? 0
    }

    private static func instant(for date: Date) -> ContinuousClock.Instant {
        .now + .milliseconds(Int64(max(date.timeIntervalSinceNow, 0) * 1_000) + 1)
    }

    private static func leased(_ job: ClaimedJob) -> V1.LeasedJob {
        let expires = Date().addingTimeInterval(Double(job.leaseRemainingMilliseconds) / 1_000)
        return V1.LeasedJob(
            job: V1.Job(
                id: job.id.uuidString.lowercased(),
                tenantID: job.tenantID,
                spec: V1.JobSpec(
                    queue: job.queue, jobType: job.jobType, payloadJSON: Array(job.payloadJSON.utf8),
                    idempotencyKey: job.idempotencyKey ?? ""),
                state: .running,
                attempts: UInt32(job.attempt),
                traceparent: job.traceparent ?? ""),
            leaseToken: job.leaseToken.uuidString.lowercased(),
            attempt: UInt32(job.attempt),
            leaseExpiresAtUnixMs: Int64(expires.timeIntervalSince1970 * 1_000),
            heartbeatIntervalMs: max(job.leaseRemainingMilliseconds / 3, 100),
            idempotencyKey: job.idempotencyKey ?? job.id.uuidString.lowercased())
    }

    // MARK: - Attempts

    func heartbeat(_ request: V1.HeartbeatRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.HeartbeatResponse
    {
        let (tenantID, jobID, token) = try Self.attempt(request.jobID, request.leaseToken, context)
        let store = self.store
        let outcome: HeartbeatOutcome?
        do {
            outcome = try await self.pool.withTenantTransaction(tenantID) { connection in
                try store.heartbeat(jobID: jobID, shard: store.shard(of: jobID), leaseToken: token, on: connection)
            }
        } catch {
            throw CallStatus(error, doing: "extending the lease")
        }
        guard let outcome else {
            throw Self.stale(jobID)
        }
        let expires = Date().addingTimeInterval(Double(outcome.leaseRemainingMilliseconds) / 1_000)
        return V1.HeartbeatResponse(
            leaseExpiresAtUnixMs: Int64(expires.timeIntervalSince1970 * 1_000), cancelRequested: outcome.cancelRequested
        )
    }

    func complete(_ request: V1.CompleteAttemptRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.CompleteAttemptResponse
    {
        let (tenantID, jobID, token) = try Self.attempt(request.jobID, request.leaseToken, context)
        var result: String?
        if !request.resultJSON.isEmpty {
            guard let text = String(validating: request.resultJSON, as: UTF8.self),
                (try? JSONSerialization.jsonObject(with: Data(request.resultJSON), options: [.fragmentsAllowed])) != nil
            else {
                throw CallStatus(code: .invalidArgument, message: "result_json must be a JSON document in UTF-8")
            }
            result = text
        }
        let finalResult = result
        try await self.finish(jobID: jobID, token: token, tenantID: tenantID, context: context) { store, connection in
            try store.complete(
                jobID: jobID, shard: store.shard(of: jobID), leaseToken: token, resultJSON: finalResult, on: connection)
        }
        return V1.CompleteAttemptResponse(
            job: V1.Job(id: jobID.uuidString.lowercased(), tenantID: tenantID, state: .succeeded))
    }

    func fail(_ request: V1.FailAttemptRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.FailAttemptResponse
    {
        let (tenantID, jobID, token) = try Self.attempt(request.jobID, request.leaseToken, context)
        guard request.retryAfterMs >= 0, request.retryAfterMs <= 7 * 86_400_000 else {
            throw CallStatus(
                code: .invalidArgument,
                message: "retry_after_ms must be 0 to 604800000 (a week); got \(request.retryAfterMs)")
        }
        let retryAfter = request.retryAfterMs > 0 ? Duration.milliseconds(request.retryAfterMs) : nil
        let message = request.errorMessage
        let final = request.finalFailure
        let outcome = try await self.finish(jobID: jobID, token: token, tenantID: tenantID, context: context) {
            store, connection in
            try store.fail(
                jobID: jobID, shard: store.shard(of: jobID), leaseToken: token, errorMessage: message, final: final,
                retryAfter: retryAfter, on: connection)
        }
        var response = V1.FailAttemptResponse(
            job: V1.Job(id: jobID.uuidString.lowercased(), tenantID: tenantID, state: .dead))
        if case .retrying(let milliseconds) = outcome {
            response.job?.state = .retryWait
            response.nextAttemptAtUnixMs = Int64(Date().timeIntervalSince1970 * 1_000) + milliseconds
        }
        return response
    }

    /// Ends an attempt: finds its queue, runs `body` (whose statement gives back the running
    /// unit), wakes the worker's stream and audits the call, all in one transaction.
    @discardableResult
    private func finish<T: Sendable>(
        jobID: UUID,
        token: UUID,
        tenantID: String,
        context: CallContext,
        _ body: @escaping @Sendable (JobStore, PostgresConnection) throws -> T?
    ) async throws(CallStatus) -> T {
        let store = self.store
        let audit = self.audit
        let resourceID = jobID.uuidString.lowercased()
        let outcome: T?
        do {
            outcome = try await self.pool.withTenantTransaction(tenantID) { connection -> T? in
                let row = try connection.query(
                    "SELECT queue FROM gnomon_jobs WHERE shard = $1 AND id = $2 AND lease_token = $3 AND state = 'running'",
                    [store.shard(of: jobID), jobID, token]
                ).first
                guard let queue = try row?.string("queue"), let value = try body(store, connection) else {
                    return nil
                }
                try connection.notify(
                    JobNotifications.channel, payload: JobNotifications.payload(tenantID: tenantID, queue: queue))
                try audit.record(context, resourceID: resourceID, status: CallStatus(code: .ok), on: connection)
                return value
            }
        } catch {
            throw CallStatus(error, doing: "ending the attempt")
        }
        guard let outcome else {
            let status = Self.stale(jobID)
            await audit.recordFailure(context, resourceID: resourceID, status: status)
            throw status
        }
        return outcome
    }

    private static func attempt(_ jobID: String, _ leaseToken: String, _ context: CallContext) throws(CallStatus)
        -> (String, UUID, UUID)
    {
        guard let tenantID = context.tenantID else {
            throw CallStatus(code: .permissionDenied, message: "a worker's token must name its tenant")
        }
        guard let id = UUID(uuidString: jobID) else {
            throw CallStatus(code: .invalidArgument, message: "job_id must be a job's UUID")
        }
        guard let token = UUID(uuidString: leaseToken) else {
            throw CallStatus(code: .invalidArgument, message: "lease_token must be the UUID the lease stream gave")
        }
        return (tenantID, id, token)
    }

    private static func stale(_ jobID: UUID) -> CallStatus {
        CallStatus(
            code: .failedPrecondition,
            message: "job \(jobID.uuidString.lowercased()) has no running attempt with this lease token: it expired, "
                + "was cancelled, or already ended; nothing was changed")
    }
}
