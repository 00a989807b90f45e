import GnomonProtocol

/// Seeds for the MessageDecoding target: the byte that picks the type, then a real encoding.
///
/// One seed for each of the richest messages, which between them hold every kind of field:
/// strings, bytes, maps, repeated fields, enums, nested messages, oneofs and doubles.
enum MessageSeeds {
    /// Makes every seed.
    static func make() throws -> [(name: String, bytes: [UInt8])] {
        var seeds: [(name: String, bytes: [UInt8])] = []
        for message in self.jobMessages() + self.otherMessages() {
            let name = String(type(of: message).protoName.split(separator: ".").last!)
            let sameName = seeds.filter { $0.name.hasPrefix(name + "-") || $0.name == name }.count
            seeds.append((sameName == 0 ? name : "\(name)-\(sameName + 1)", try self.seed(message)))
        }
        return seeds
    }

    /// Jobs and what carries them.
    private static func jobMessages() -> [any ProtoMessage] {
        let backoff = V1.BackoffPolicy(initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2, jitter: 0.2)
        let http = V1.HttpTarget(
            url: "https://example.test/hook",
            method: V1.HttpMethod(rawValue: 1),
            headers: ["content-type": "application/json", "x-id": "7"],
            body: Array("{\"a\":1}".utf8),
            followRedirects: true
        )
        let spec = V1.JobSpec(
            queue: "email",
            jobType: "welcome",
            payloadJSON: Array("{\"to\":\"a@b.c\"}".utf8),
            labels: ["team": "growth"],
            priority: -5,
            maxAttempts: 3,
            backoff: backoff,
            attemptTimeoutMs: 30_000,
            idempotencyKey: "k1",
            httpTarget: http,
            start: .delayMs(500)
        )
        let job = V1.Job(
            id: "job-1",
            tenantID: "t1",
            spec: spec,
            state: V1.JobState(rawValue: 2),
            attempts: 1,
            createdAtUnixMs: 1_700_000_000_000,
            lastError: "timeout \u{2713}"
        )
        let attempt = V1.Attempt(number: 1, outcome: V1.AttemptOutcome(rawValue: 2), workerID: "w1", httpStatus: 503)
        return [
            spec,
            job,
            V1.SubmitJobsRequest(jobs: [spec, V1.JobSpec(queue: "q", start: .runAtUnixMs(-1))]),
            V1.ListJobsRequest(
                queue: "email",
                states: [V1.JobState(rawValue: 1), V1.JobState(rawValue: 99)],
                labels: V1.LabelSelector(matchLabels: ["team": "growth"]),
                page: V1.PageRequest(pageSize: 50, pageToken: "next")
            ),
            V1.LeaseStreamMessage(
                event: .leased(V1.LeasedJob(job: job, leaseToken: "lt", attempt: 2, heartbeatIntervalMs: 10_000))
            ),
            V1.LeaseStreamMessage(event: .revoked(V1.LeaseRevoked(jobID: "job-1", attempt: 2, reason: .cancelled))),
            V1.DeadLetter(job: job, lastAttempt: attempt, deadAtUnixMs: 1),
            V1.FailAttemptRequest(jobID: "job-1", leaseToken: "lt", errorMessage: "boom", retryAfterMs: 100),
        ]
    }

    /// Frames, statuses, schedules, tenants, audit records and the server's status.
    private static func otherMessages() -> [any ProtoMessage] {
        let details: [V1.StatusDetail] = [
            V1.StatusDetail(detail: .quotaFailure(V1.QuotaFailure(quota: "submit_rate", limit: 10, current: 11))),
            V1.StatusDetail(detail: .retryInfo(V1.RetryInfo(retryAfterMs: 250))),
            V1.StatusDetail(
                detail: .badRequest(
                    V1.BadRequest(violations: [V1.FieldViolation(field: "job.queue", description: "empty")]))
            ),
            V1.StatusDetail(detail: .resourceInfo(V1.ResourceInfo(resourceType: "job", resourceName: "job-1"))),
            V1.StatusDetail(detail: .errorInfo(V1.ErrorInfo(reason: "LEASE_TOKEN_STALE", metadata: ["a": "b"]))),
        ]
        let status = V1.Status(code: 8, message: "over quota", details: details)
        let metadata = V1.CallMetadata(
            authorization: "Bearer e30.e30.",
            timeoutMs: 5_000,
            idempotencyKey: "k1",
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            requestID: "req-1",
            tenantID: "t1",
            extra: ["x-client": "fuzz"]
        )
        let request = V1.Frame.makeRequest(
            streamID: 1,
            method: MethodDescriptor.getServerStatus.fullName,
            metadata: metadata,
            payload: [1, 2]
        )
        let schedule = V1.Schedule(
            id: "s1",
            spec: V1.ScheduleSpec(
                expression: "*/5 * * * *",
                timeZone: "Europe/Paris",
                jobTemplate: V1.JobSpec(queue: "reports"),
                catchUpLimit: 3,
                labels: ["k": "v"]
            ),
            state: V1.ScheduleState(rawValue: 1),
            revision: 4
        )
        let quotas = V1.Quotas(submitRatePerSecond: 12.5, submitBurst: 20, maxPendingJobs: 1_000, maxSecrets: 5)
        return [
            request,
            V1.Frame(streamID: 3, kind: .end, status: status),
            V1.Frame.makeGoAway(reason: .protocolError, lastStreamID: 9, message: "bad frame"),
            schedule,
            V1.Tenant(id: "t1", displayName: "Tenant \u{1F989}", quotas: quotas, disabledReason: ""),
            V1.BackoffPolicy(initialDelayMs: 1, maxDelayMs: 2, multiplier: .nan, jitter: -0.0),
            V1.AuditRecord(id: "a1", actor: "alice", roles: ["admin", "ops"], method: "SubmitJob", statusCode: 0),
            V1.GetServerStatusResponse(
                version: "0.1.0",
                nodeID: "n1",
                uptimeMs: 1_000,
                database: V1.DatabaseStatus(serverVersion: "17.2", embedded: true, schemaVersion: 3),
                shards: V1.ShardStatus(shardCount: 64, ownedByThisNode: 64, liveNodes: 1, thisNodeIsLeader: true),
                protocolName: "gnomon/1"
            ),
        ]
    }

    /// The byte that picks the message's type, followed by its encoding.
    private static func seed(_ message: some ProtoMessage) throws -> [UInt8] {
        let types = generatedMessageTypes
        let index = types.firstIndex { ObjectIdentifier($0) == ObjectIdentifier(type(of: message)) }!
        return [UInt8(index)] + (try message.serializedBytes())
    }
}
