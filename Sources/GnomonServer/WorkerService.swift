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
    /// This node's shard loops, told of each attempt started so they end it on time if it expires.
    let shardLoops: ShardLoops?
    let logger: Logger

    // MARK: - Lease stream

    /// An attempt the stream pushed to its worker and has not seen end.
    private struct PushedAttempt {
        let attempt: UInt32
        let leaseToken: UUID
    }

    /// What one look at the database found: jobs claimed, the next due time when there is
    /// room for more, and which pushed attempts ended, some of them by a cancel.
    private struct LeaseRound: Sendable {
        var claimed: [ClaimedJob]
        /// Room was left after the claim: every due job the stream could see, it took.
        var hasRoom: Bool
        var nextDue: Date?
        var ended: Set<UUID>
        var cancelled: Set<UUID>
    }

    /// Pushes due jobs of the worker's queues, never more running at once than its capacity,
    /// until the worker goes away or the call is cancelled; revokes the lease of a pushed job
    /// that is cancelled while it runs.
    ///
    /// The stream follows the attempts it pushed until they end, so at most about its
    /// capacity: each round reads which of them still run, and revokes those that a cancel
    /// ended. A cancel's notification only wakes the stream for such a round. The stream
    /// registers the jobs it follows before the round that reads them, so a cancel is either
    /// seen by that read or notified after the registration, which wakes the stream (or makes
    /// its next wait return at once): none is missed, and none is revoked on a rumour.
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
        let shardLoops = self.shardLoops
        let stream = self.notifications.openStream(tenantID: tenantID, queues: Set(queues))
        defer { self.notifications.closeStream(stream) }
        var pushed: [UUID: PushedAttempt] = [:]
        while !Task.isCancelled {
            if self.notifications.isStopped {
                return CallStatus(code: .unavailable, message: "the server is shutting down; reconnect to another node")
            }
            let following = pushed.mapValues(\.leaseToken)
            let round: LeaseRound
            do {
                round = try await self.pool.withTenantTransaction(tenantID) { connection in
                    // A start lost in a database crash only means the job is claimed again.
                    try connection.commitWithoutFlushWait()
                    let running = try store.runningLeases(tenantID: tenantID, worker: worker, on: connection)
                    let ended = following.filter { running[$0.key] != $0.value }
                    let cancelled = try store.cancelledLeases(ended, on: connection)
                    let quotas = try TenantStore.quotas(for: tenantID, on: connection)
                    let runLimit = quotas.maxConcurrentRuns > 0 ? quotas.maxConcurrentRuns : nil
                    // Only a limit needs the usage row locked for the whole claim.
                    let tenantRoom =
                        runLimit == nil
                        ? Int64.max : try QuotaStore.runningRoom(limit: runLimit, tenantID: tenantID, on: connection)
                    let room = Int(min(Int64(capacity - running.count), tenantRoom))
                    let jobs =
                        room > 0
                        ? try store.claimForWorker(
                            tenantID: tenantID, queues: queues, jobTypes: request.jobTypes, limit: room,
                            worker: worker, on: connection)
                        : []
                    let more = room - jobs.count > 0
                    let nextDue = more ? try store.nextDueTime(tenantID: tenantID, queues: queues, on: connection) : nil
                    if !jobs.isEmpty {
                        try Self.announce(jobs, shardLoops: shardLoops, on: connection)
                        // Last before the commit, or at it when there is no limit to check: it
                        // locks the tenant's usage row (see finish).
                        if runLimit == nil {
                            try QuotaStore.countAtCommit(
                                runningJobs: Int64(jobs.count), tenantID: tenantID, on: connection)
                        } else {
                            try QuotaStore.takeRunningJobs(
                                Int64(jobs.count), limit: runLimit, tenantID: tenantID, on: connection)
                        }
                    }
                    return LeaseRound(
                        claimed: jobs, hasRoom: more, nextDue: nextDue, ended: Set(ended.keys), cancelled: cancelled)
                }
            } catch {
                if Task.isCancelled {
                    break
                }
                self.logger.warning("a lease stream could not claim jobs", [LogKey.error: "\(error)"])
                await self.notifications.wait(
                    tenantID: tenantID, queues: Set(queues), stream: stream, until: .now + .seconds(1))
                continue
            }
            self.shardLoops?.attemptsStarted(round.claimed)
            if !round.claimed.isEmpty && !round.hasRoom {
                // Full: due jobs may be left that this stream had no room for; another
                // hungry stream of these queues takes over the notification that woke it.
                for queue in queues {
                    self.notifications.deliver(
                        JobNotifications.payload(tenantID: tenantID, queue: queue), hungryOnly: true, except: stream)
                }
            }
            var messages: [V1.LeaseStreamMessage] = []
            for id in round.ended {
                if round.cancelled.contains(id), let attempt = pushed[id] {
                    messages.append(Self.revoked(id, attempt))
                }
                pushed[id] = nil
            }
            for job in round.claimed {
                pushed[job.id] = PushedAttempt(attempt: UInt32(job.attempt), leaseToken: job.leaseToken)
                messages.append(V1.LeaseStreamMessage(event: .leased(Self.leased(job))))
            }
            if !round.ended.isEmpty || !round.claimed.isEmpty {
                self.notifications.follow(Set(pushed.keys), stream: stream)
            }
            for message in messages {
                guard let bytes = try? message.serializedBytes(), await send(bytes) else {
                    // The stream ended: these attempts run out their leases and are retried.
                    return CallStatus(code: .cancelled, message: "the lease stream ended")
                }
            }
            if !round.claimed.isEmpty {
                // There may be more, and the jobs just pushed are followed only from now: look
                // again before waiting.
                continue
            }
            await self.notifications.wait(
                tenantID: tenantID, queues: Set(queues), stream: stream,
                hungry: round.hasRoom && request.jobTypes.isEmpty, until: round.nextDue.map(Self.instant(for:)))
        }
        return CallStatus(code: .cancelled, message: "the lease stream was cancelled")
    }

    private static func revoked(_ id: UUID, _ attempt: PushedAttempt) -> V1.LeaseStreamMessage {
        V1.LeaseStreamMessage(
            event: .revoked(
                V1.LeaseRevoked(jobID: id.uuidString.lowercased(), attempt: attempt.attempt, reason: .cancelled)))
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

    /// Tells the owners of the attempts' shards on other nodes when the attempts expire, by
    /// a notification sent when the claim commits; this node's own loops are told directly.
    private static func announce(_ jobs: [ClaimedJob], shardLoops: ShardLoops?, on connection: PostgresConnection)
        throws
    {
        let remote = ShardLoops.earliestExpiries(jobs).filter { shardLoops?.holds($0.key) != true }
        for payload in JobNotifications.attemptPayloads(remote) {
            try connection.notify(JobNotifications.attemptsChannel, payload: payload)
        }
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
                try connection.commitWithoutFlushWait()
                return try store.heartbeat(
                    jobID: jobID, shard: store.shard(of: jobID), leaseToken: token, on: connection)
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
            // The attempt may have ended since `finish` looked (its lease expired and it was
            // reaped, or a repeat of this call won): then nothing was completed, and `nil`
            // reports the token as stale rather than `false` passing for success.
            let completed = try store.complete(
                jobID: jobID, shard: store.shard(of: jobID), leaseToken: token, resultJSON: finalResult, on: connection)
            return completed ? true : nil
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
                // An end lost in a database crash only means the attempt runs again, as after
                // any lost answer: delivery is at-least-once.
                try connection.commitWithoutFlushWait()
                // The job's row is locked first and the attempt ended last, right before the
                // commit: ending it updates the tenant's usage row, which every submission,
                // claim and end of the tenant also needs, so it is held for one round trip only.
                let row = try connection.query(
                    """
                    SELECT queue FROM gnomon_jobs
                    WHERE shard = $1 AND id = $2 AND lease_token = $3 AND state = 'running'
                    FOR UPDATE
                    """,
                    [store.shard(of: jobID), jobID, token]
                ).first
                guard let queue = try row?.string("queue") else {
                    return nil
                }
                try connection.notify(
                    JobNotifications.channel, payload: JobNotifications.payload(tenantID: tenantID, queue: queue))
                try audit.record(context, resourceID: resourceID, status: CallStatus(code: .ok), on: connection)
                guard let value = try body(store, connection) else {
                    // Not expected with the row locked; undo the notification and the audit record.
                    throw AttemptChangedUnderLock()
                }
                return value
            }
        } catch is AttemptChangedUnderLock {
            outcome = nil
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

/// Rolls back an attempt's end whose statement changed nothing although the job's row was locked.
private struct AttemptChangedUnderLock: Error {}
