import Foundation
import GnomonAuth
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonStore
import GnomonTestSupport
import Testing

/// Workers leasing jobs over TLS from an in-process node on a real PostgreSQL.
@Suite("Worker dispatch, end to end", .serialized)
struct WorkerDispatchTests {
    static func submit(_ server: AuthHarness, token: String, queue: String = "emails", count: Int = 1)
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

    @Test("a completion that loses the race with the attempt's end is refused, not acknowledged")
    func completionLosingRace() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let workerToken = try server.token("acme", [.worker])
            _ = try await Self.submit(server, token: try server.token("acme", [.operator]))
            let stream = try server.leaseStream(token: workerToken, queues: ["emails"], capacity: 1)
            defer { stream.cancel() }
            #expect(await stream.waitFor(1))
            let leased = try #require(stream.jobs.first)
            let jobID = leased.job?.id ?? ""

            // The test holds the job's row, so the completion finds its token valid and then
            // waits for the row; meanwhile the attempt ends and the next one starts, which a
            // new token stands for.
            let row = try await OpenTransaction(
                server.database, "SELECT 1 FROM gnomon_jobs WHERE id = $1::uuid FOR UPDATE", [jobID],
                closingWith: "UPDATE gnomon_jobs SET lease_token = gen_random_uuid() WHERE id = $1::uuid")
            let completion = Task {
                await server.status(
                    .completeAttempt, V1.CompleteAttemptRequest(jobID: jobID, leaseToken: leased.leaseToken),
                    token: workerToken)
            }
            try await eventually(within: .seconds(10), "the completion waits for the job's row") {
                try await server.database.lockWaiterCount() > 0
            }
            try await row.close()
            let status = await completion.value
            #expect(status.code == .failedPrecondition)
            let stillRunning = try await server.database.withConnection { connection in
                try connection.query(
                    "SELECT count(*)::int AS n FROM gnomon_jobs WHERE id = $1::uuid AND state = 'running'", [jobID]
                ).first?.int("n")
            }
            #expect(stillRunning == 1)
            #expect(try await server.database.historyRowCounts([jobID]).isEmpty)
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

    @Test("a worker that goes silent loses its attempt to the node's shard loop; after max attempts the job is dead")
    func silentWorkerEndsDead() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let operatorToken = try server.token("acme", [.operator])
            let workerToken = try server.token("acme", [.worker])
            let spec = V1.JobSpec(
                queue: "flaky", payloadJSON: Array("{}".utf8), maxAttempts: 2,
                backoff: V1.BackoffPolicy(initialDelayMs: 10, maxDelayMs: 10), attemptTimeoutMs: 400)
            let submitted: V1.SubmitJobResponse = try await server.call(
                .submitJob, V1.SubmitJobRequest(job: spec), token: operatorToken)
            let jobID = try #require(submitted.job?.id)

            // The worker takes each attempt and never answers, as one killed by its job would.
            let stream = try server.leaseStream(token: workerToken, queues: ["flaky"], capacity: 5)
            defer { stream.cancel() }
            let twice = await stream.waitFor(2, within: .seconds(10))
            #expect(twice, "the expired first attempt was not ended and leased again")
            #expect(stream.jobs.map(\.attempt) == [1, 2])
            #expect(Set(stream.jobs.compactMap { $0.job?.id }) == [jobID])

            // The second attempt's lease expires too: no third attempt, the job is dead.
            try await Task.sleep(for: .milliseconds(1_500))
            #expect(stream.jobs.count == 2, "a job with max_attempts 2 was leased a third time")
            let dead = try await server.database.withConnection { connection in
                try connection.query(
                    "SELECT count(*) AS n FROM gnomon_dead_letters WHERE id = $1::uuid", [jobID]
                ).first?.int("n")
            }
            #expect(dead == 1)
            let late = await server.status(
                .completeAttempt, V1.CompleteAttemptRequest(jobID: jobID, leaseToken: stream.jobs[1].leaseToken),
                token: workerToken)
            #expect(late.code == .failedPrecondition)
        }
    }

    @Test("an attempt started on one node in a shard another node owns is ended by the owner when it expires")
    func crossNodeExpiry() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            try await server.withSecondNode { _ in
                try await eventually(within: .seconds(30), "node-b holds half the shards") {
                    let held = try await server.database.withConnection { connection in
                        try connection.query(
                            """
                            SELECT count(*)::int AS n FROM gnomon_shard_leases
                            WHERE owner_node = 'node-b' AND expires_at > now()
                            """
                        ).first?.int("n")
                    }
                    return held == 8
                }
                let operatorToken = try server.token("acme", [.operator])
                let workerToken = try server.token("acme", [.worker])
                let spec = V1.JobSpec(
                    queue: "flaky", payloadJSON: Array("{}".utf8), maxAttempts: 3,
                    backoff: V1.BackoffPolicy(initialDelayMs: 10, maxDelayMs: 10), attemptTimeoutMs: 500)
                let submitted: V1.SubmitJobsResponse = try await server.call(
                    .submitJobs, V1.SubmitJobsRequest(jobs: Array(repeating: spec, count: 16)), token: operatorToken)
                #expect(submitted.results.count == 16)

                // The worker, on node-a, never answers. Half the jobs' shards are node-b's: only a
                // notification from node-a wakes node-b's loops before their 30 s backstop.
                let stream = try server.leaseStream(token: workerToken, queues: ["flaky"], capacity: 32)
                defer { stream.cancel() }
                let again = await stream.waitFor(32, within: .seconds(12))
                #expect(again, "attempts in node-b's shards were not ended on time: \(stream.jobs.count) of 32 leases")
                let attempts = Dictionary(grouping: stream.jobs, by: { $0.job?.id ?? "" }).mapValues {
                    $0.map(\.attempt)
                }
                #expect(attempts.count == 16)
                #expect(attempts.values.allSatisfy { Array($0.prefix(2)) == [1, 2] })
            }
        }
    }

    @Test("the tenant's max_concurrent_runs holds across workers: two workers of capacity 5 run 2 jobs, not 10")
    func concurrentRunsQuota() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let platform = try server.token(nil, [.platformAdmin])
            let _: V1.SetQuotasResponse = try await server.call(
                .setQuotas,
                V1.SetQuotasRequest(
                    tenantID: "acme", quotas: V1.Quotas(maxConcurrentRuns: 2), updateMask: ["max_concurrent_runs"]),
                token: platform)
            let operatorToken = try server.token("acme", [.operator])
            let workerToken = try server.token("acme", [.worker])
            _ = try await Self.submit(server, token: operatorToken, count: 6)
            let one = try server.leaseStream(token: workerToken, queues: ["emails"], capacity: 5, worker: "w1")
            let two = try server.leaseStream(token: workerToken, queues: ["emails"], capacity: 5, worker: "w2")
            defer {
                one.cancel()
                two.cancel()
            }
            try await Task.sleep(for: .milliseconds(800))
            #expect(one.jobs.count + two.jobs.count == 2)

            // Ending one attempt makes room for exactly one more.
            let first = try #require((one.jobs + two.jobs).first)
            let _: V1.CompleteAttemptResponse = try await server.call(
                .completeAttempt, V1.CompleteAttemptRequest(jobID: first.job?.id ?? "", leaseToken: first.leaseToken),
                token: workerToken)
            try await Task.sleep(for: .milliseconds(800))
            #expect(one.jobs.count + two.jobs.count == 3)
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

    @Test("a queue's max_running holds across workers, leaves other queues alone, and a raised limit wakes workers")
    func queueConcurrency() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let operatorToken = try server.token("acme", [.operator])
            let workerToken = try server.token("acme", [.worker])
            let limited: V1.SetQueueConcurrencyResponse = try await server.call(
                .setQueueConcurrency, V1.SetQueueConcurrencyRequest(name: "reports", maxRunning: 1),
                token: operatorToken)
            #expect(limited.queue?.maxRunning == 1)
            _ = try await WorkerDispatchTests.submit(server, token: operatorToken, queue: "reports", count: 4)
            _ = try await WorkerDispatchTests.submit(server, token: operatorToken, queue: "emails", count: 3)

            let one = try server.leaseStream(
                token: workerToken, queues: ["reports", "emails"], capacity: 5, worker: "w1")
            let two = try server.leaseStream(token: workerToken, queues: ["reports"], capacity: 5, worker: "w2")
            defer {
                one.cancel()
                two.cancel()
            }
            try await Task.sleep(for: .milliseconds(800))
            let leased = one.jobs + two.jobs
            #expect(leased.count { $0.job?.spec?.queue == "reports" } == 1)
            #expect(leased.count { $0.job?.spec?.queue == "emails" } == 3)

            let got: V1.GetQueueResponse = try await server.call(
                .getQueue, V1.GetQueueRequest(name: "reports"), token: operatorToken)
            #expect(got.queue?.maxRunning == 1)
            #expect(got.queue?.stats?.running == 1)

            let raised: V1.SetQueueConcurrencyResponse = try await server.call(
                .setQueueConcurrency, V1.SetQueueConcurrencyRequest(name: "reports", maxRunning: 3),
                token: operatorToken)
            #expect(raised.queue?.maxRunning == 3)
            try await Task.sleep(for: .milliseconds(800))
            #expect((one.jobs + two.jobs).count { $0.job?.spec?.queue == "reports" } == 3)
        }
    }

    @Test("a bad queue concurrency request is refused with the field named, and changes nothing")
    func queueConcurrencyBadInput() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let operatorToken = try server.token("acme", [.operator])
            let tooMany = await server.status(
                .setQueueConcurrency, V1.SetQueueConcurrencyRequest(name: "reports", maxRunning: 100_001),
                token: operatorToken)
            #expect(tooMany.code == .invalidArgument)
            #expect(tooMany.message.contains("max_running must be 0 (no limit) to 100000; got 100001"))
            let badName = await server.status(
                .setQueueConcurrency, V1.SetQueueConcurrencyRequest(name: "no spaces", maxRunning: 2),
                token: operatorToken)
            #expect(badName.code == .invalidArgument)
            #expect(badName.message.hasPrefix("name must be 1 to 128 characters"))
            let missing = await server.status(
                .getQueue, V1.GetQueueRequest(name: "reports"), token: operatorToken)
            #expect(missing.code == .notFound)
            let viewer = await server.status(
                .setQueueConcurrency, V1.SetQueueConcurrencyRequest(name: "reports", maxRunning: 2),
                token: try server.token("acme", [.viewer]))
            #expect(viewer.code == .permissionDenied)
        }
    }
}
