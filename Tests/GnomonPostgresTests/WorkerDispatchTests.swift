import Foundation
import GnomonAuth
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import Testing

/// Workers leasing jobs over TLS from an in-process node on a real PostgreSQL.
@Suite("Worker dispatch, end to end", .serialized)
struct WorkerDispatchTests {
    private static func submit(_ server: AuthHarness, token: String, queue: String = "emails", count: Int = 1)
        async throws -> [String]
    {
        let response: V1.SubmitJobsResponse = try await server.call(
            .submitJobs,
            V1.SubmitJobsRequest(
                jobs: (0..<count).map { index in
                    V1.JobSpec(queue: queue, payloadJSON: Array("{\"n\":\(index)}".utf8))
                }),
            token: token)
        return response.results.compactMap { result in
            if case .job(let job) = result.outcome { return job.id }
            return nil
        }
    }

    @Test("a worker gets at most its capacity; completing one brings the next; a job submitted later arrives")
    func capacityAndNotification() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let operatorToken = try server.token("acme", [.operator])
            let workerToken = try server.token("acme", [.worker], subject: "worker-1")
            let ids = try await Self.submit(server, token: operatorToken, count: 3)
            #expect(ids.count == 3)

            let stream = try server.leaseStream(token: workerToken, queues: ["emails"], capacity: 2)
            defer { stream.cancel() }
            #expect(await stream.waitFor(2))
            try await Task.sleep(for: .milliseconds(300))
            #expect(stream.jobs.count == 2, "capacity 2 was exceeded")
            let first = stream.jobs[0]
            #expect(first.attempt == 1)
            #expect(first.job?.spec?.queue == "emails")
            #expect(first.heartbeatIntervalMs > 0)

            let done: V1.CompleteAttemptResponse = try await server.call(
                .completeAttempt,
                V1.CompleteAttemptRequest(jobID: first.job?.id ?? "", leaseToken: first.leaseToken),
                token: workerToken)
            #expect(done.job?.state == .succeeded)
            #expect(await stream.waitFor(3))
            #expect(Set(stream.jobs.compactMap { $0.job?.id }) == Set(ids))

            // A job submitted while the stream waits is pushed at once, by notification.
            for job in stream.jobs.dropFirst() {
                let _: V1.CompleteAttemptResponse = try await server.call(
                    .completeAttempt, V1.CompleteAttemptRequest(jobID: job.job?.id ?? "", leaseToken: job.leaseToken),
                    token: workerToken)
            }
            let submittedAt = ContinuousClock.now
            _ = try await Self.submit(server, token: operatorToken)
            #expect(await stream.waitFor(4, within: .seconds(5)))
            #expect(ContinuousClock.now - submittedAt < .seconds(5))
        }
    }

    @Test("a stale or repeated lease token changes nothing and gets FAILED_PRECONDITION")
    func staleToken() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let operatorToken = try server.token("acme", [.operator])
            let workerToken = try server.token("acme", [.worker])
            _ = try await Self.submit(server, token: operatorToken)
            let stream = try server.leaseStream(token: workerToken, queues: ["emails"], capacity: 1)
            defer { stream.cancel() }
            #expect(await stream.waitFor(1))
            let leased = try #require(stream.jobs.first)
            let jobID = leased.job?.id ?? ""

            let forged = await server.status(
                .completeAttempt, V1.CompleteAttemptRequest(jobID: jobID, leaseToken: UUID().uuidString),
                token: workerToken)
            #expect(forged.code == .failedPrecondition)
            let heartbeat: V1.HeartbeatResponse = try await server.call(
                .heartbeat, V1.HeartbeatRequest(jobID: jobID, leaseToken: leased.leaseToken), token: workerToken)
            #expect(heartbeat.leaseExpiresAtUnixMs > Int64(Date().timeIntervalSince1970 * 1_000))
            let _: V1.CompleteAttemptResponse = try await server.call(
                .completeAttempt, V1.CompleteAttemptRequest(jobID: jobID, leaseToken: leased.leaseToken),
                token: workerToken)
            let again = await server.status(
                .completeAttempt, V1.CompleteAttemptRequest(jobID: jobID, leaseToken: leased.leaseToken),
                token: workerToken)
            #expect(again.code == .failedPrecondition)
            #expect(again.message.contains("nothing was changed"))
            let lateHeartbeat = await server.status(
                .heartbeat, V1.HeartbeatRequest(jobID: jobID, leaseToken: leased.leaseToken), token: workerToken)
            #expect(lateHeartbeat.code == .failedPrecondition)
        }
    }

    @Test("a retryable failure brings the job back after its backoff, as attempt 2")
    func retryAfterFailure() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let operatorToken = try server.token("acme", [.operator])
            let workerToken = try server.token("acme", [.worker])
            _ = try await Self.submit(server, token: operatorToken)
            let stream = try server.leaseStream(token: workerToken, queues: ["emails"], capacity: 1)
            defer { stream.cancel() }
            #expect(await stream.waitFor(1))
            let first = try #require(stream.jobs.first)
            let failed: V1.FailAttemptResponse = try await server.call(
                .failAttempt,
                V1.FailAttemptRequest(
                    jobID: first.job?.id ?? "", leaseToken: first.leaseToken, errorMessage: "smtp down",
                    retryAfterMs: 500),
                token: workerToken)
            #expect(failed.job?.state == .retryWait)
            #expect(failed.nextAttemptAtUnixMs > 0)
            // No notification comes for a retry: the stream wakes at the job's due time.
            #expect(await stream.waitFor(2, within: .seconds(10)))
            let second = stream.jobs[1]
            #expect(second.job?.id == first.job?.id)
            #expect(second.attempt == 2)
            #expect(second.leaseToken != first.leaseToken)
        }
    }

    @Test("a worker sees only its own tenant's jobs, and only a worker may lease")
    func tenantScoped() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme", "globex")
            _ = try await Self.submit(server, token: try server.token("acme", [.operator]), count: 2)
            let globexWorker = try server.token("globex", [.worker])
            let stream = try server.leaseStream(token: globexWorker, queues: ["emails"], capacity: 5)
            defer { stream.cancel() }
            try await Task.sleep(for: .milliseconds(500))
            #expect(stream.jobs.isEmpty)

            let viewer = try server.leaseStream(
                token: try server.token("acme", [.viewer]), queues: ["emails"], capacity: 1)
            defer { viewer.cancel() }
            try await Task.sleep(for: .milliseconds(300))
            #expect(viewer.endStatus?.code == .permissionDenied)
            #expect(viewer.jobs.isEmpty)
        }
    }
}

@Suite("Queues, end to end", .serialized)
struct QueueEndToEndTests {
    @Test("a queue appears with its first job and counts it; pausing stops leasing, resuming wakes workers at once")
    func pauseAndResume() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme", "globex")
            let operatorToken = try server.token("acme", [.operator])
            let missing = await server.status(.getQueue, V1.GetQueueRequest(name: "emails"), token: operatorToken)
            #expect(missing.code == .notFound)

            let paused: V1.PauseQueueResponse
            let _: V1.SubmitJobsResponse = try await server.call(
                .submitJobs, V1.SubmitJobsRequest(jobs: [V1.JobSpec(queue: "emails")]), token: operatorToken)
            paused = try await server.call(.pauseQueue, V1.PauseQueueRequest(name: "emails"), token: operatorToken)
            #expect(paused.queue?.paused == true)
            #expect(paused.queue?.stats?.pending == 1)
            let _: V1.SubmitJobsResponse = try await server.call(
                .submitJobs, V1.SubmitJobsRequest(jobs: [V1.JobSpec(queue: "emails")]), token: operatorToken)

            let stream = try server.leaseStream(
                token: try server.token("acme", [.worker]), queues: ["emails"], capacity: 10)
            defer { stream.cancel() }
            try await Task.sleep(for: .milliseconds(500))
            #expect(stream.jobs.isEmpty, "a paused queue's job was leased")

            let resumed: V1.ResumeQueueResponse = try await server.call(
                .resumeQueue, V1.ResumeQueueRequest(name: "emails"), token: operatorToken)
            #expect(resumed.queue?.paused == false)
            #expect(await stream.waitFor(2, within: .seconds(5)))

            let listed: V1.ListQueuesResponse = try await server.call(
                .listQueues, V1.ListQueuesRequest(), token: operatorToken)
            #expect(listed.queues.map(\.name) == ["emails"])
            #expect(listed.queues.first?.stats?.running == 2)
            // Another tenant sees none of them.
            let other: V1.ListQueuesResponse = try await server.call(
                .listQueues, V1.ListQueuesRequest(), token: try server.token("globex", [.viewer]))
            #expect(other.queues.isEmpty)
            let viewerPause = await server.status(
                .pauseQueue, V1.PauseQueueRequest(name: "emails"), token: try server.token("acme", [.viewer]))
            #expect(viewerPause.code == .permissionDenied)
        }
    }
}
