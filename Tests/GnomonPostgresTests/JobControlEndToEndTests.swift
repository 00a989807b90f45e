import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import Testing

/// Reading, listing, cancelling and retrying jobs, and the dead-letter queue, over TLS to an
/// in-process node on a real PostgreSQL.
@Suite("Job control, end to end", .serialized)
struct JobControlEndToEndTests {
    // MARK: - Helpers

    private static func submit(
        _ server: AuthHarness,
        token: String,
        queue: String = "emails",
        labels: [String: String] = [:],
        count: Int = 1
    ) async throws -> [String] {
        let response: V1.SubmitJobsResponse = try await server.call(
            .submitJobs,
            V1.SubmitJobsRequest(
                jobs: (0..<count).map { index in
                    V1.JobSpec(queue: queue, payloadJSON: Array("{\"n\":\(index)}".utf8), labels: labels)
                }),
            token: token)
        let ids = response.results.compactMap { result -> String? in
            if case .job(let job) = result.outcome { return job.id }
            return nil
        }
        #expect(ids.count == count)
        return ids
    }

    private static func get(_ server: AuthHarness, _ id: String, token: String, attempts: Bool = false)
        async throws -> V1.GetJobResponse
    {
        try await server.call(.getJob, V1.GetJobRequest(jobID: id, includeAttempts: attempts), token: token)
    }

    /// Submits `count` jobs and kills each with a final failure, so they are dead letters.
    private static func killed(
        _ server: AuthHarness,
        queue: String,
        labels: [String: String] = [:],
        count: Int
    ) async throws -> [String] {
        let ids = try await Self.submit(
            server, token: try server.token("acme", [.operator]), queue: queue, labels: labels, count: count)
        let workerToken = try server.token("acme", [.worker])
        let stream = try server.leaseStream(
            token: workerToken, queues: [queue], capacity: UInt32(count), worker: "killer-\(queue)")
        defer { stream.cancel() }
        let leasedAll = await stream.waitFor(count)
        try #require(leasedAll)
        for leased in stream.jobs {
            let failed: V1.FailAttemptResponse = try await server.call(
                .failAttempt,
                V1.FailAttemptRequest(
                    jobID: leased.job?.id ?? "", leaseToken: leased.leaseToken, errorMessage: "poison",
                    finalFailure: true),
                token: workerToken)
            #expect(failed.job?.state == .dead)
        }
        return ids
    }

    /// Every job a listing gives, page by page.
    private static func listAll(
        _ server: AuthHarness,
        _ request: V1.ListJobsRequest,
        pageSize: UInt32,
        token: String
    ) async throws -> (ids: [String], pages: Int) {
        var request = request
        request.page = V1.PageRequest(pageSize: pageSize)
        var ids: [String] = []
        var pages = 0
        while true {
            let page: V1.ListJobsResponse = try await server.call(.listJobs, request, token: token)
            pages += 1
            #expect(page.jobs.count <= Int(pageSize))
            ids += page.jobs.map(\.id)
            if page.nextPageToken.isEmpty || pages > 50 {
                return (ids, pages)
            }
            request.page = V1.PageRequest(pageSize: pageSize, pageToken: page.nextPageToken)
        }
    }

    private static func listIDs(_ server: AuthHarness, _ request: V1.ListJobsRequest, token: String)
        async throws -> Set<String>
    {
        Set(try await Self.listAll(server, request, pageSize: 1_000, token: token).ids)
    }

    /// The message with every id in it replaced, to compare the shape of two messages.
    private static func shape(_ message: String, ids: [String]) -> String {
        ids.reduce(message) { $0.replacingOccurrences(of: $1, with: "<id>") }
    }

    // MARK: - Reading

    @Test("a job reads back with its spec, defaults, state, timestamps and attempts")
    func getOwnJob() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let operatorToken = try server.token("acme", [.operator])
            let viewerToken = try server.token("acme", [.viewer])
            var spec = V1.JobSpec(
                queue: "emails", jobType: "welcome", payloadJSON: Array(#"{"to":"a@example.com"}"#.utf8),
                labels: ["team": "growth"], priority: 7, idempotencyKey: "order-17")
            spec.start = .delayMs(60_000)
            let submitted: V1.SubmitJobResponse = try await server.call(
                .submitJob, V1.SubmitJobRequest(job: spec), token: operatorToken)
            let id = try #require(submitted.job?.id)

            let read = try await Self.get(server, id, token: viewerToken)
            let job = try #require(read.job)
            #expect(job.id == id)
            #expect(job.tenantID == "acme")
            #expect(job.state == .pending)
            #expect(job.attempts == 0)
            #expect(job.spec?.queue == "emails")
            #expect(job.spec?.jobType == "welcome")
            #expect(job.spec?.labels == ["team": "growth"])
            #expect(job.spec?.priority == 7)
            #expect(job.spec?.maxAttempts == 25)
            #expect(job.spec?.attemptTimeoutMs == 300_000)
            #expect(job.spec?.backoff?.initialDelayMs == 1_000)
            #expect(job.spec?.backoff?.maxDelayMs == 3_600_000)
            #expect(job.spec?.idempotencyKey == "order-17")
            let payload = try JSONSerialization.jsonObject(with: Data(job.spec?.payloadJSON ?? [])) as? [String: String]
            #expect(payload == ["to": "a@example.com"])
            let now = Int64(Date().timeIntervalSince1970 * 1_000)
            #expect(abs(job.createdAtUnixMs - now) < 60_000)
            guard case .runAtUnixMs(let runAt) = job.spec?.start else {
                Issue.record("the spec has no run_at_unix_ms")
                return
            }
            #expect(runAt - job.createdAtUnixMs > 50_000)
            #expect(job.dueAtUnixMs == runAt)
            #expect(job.startedAtUnixMs == 0 && job.finishedAtUnixMs == 0)
            #expect(read.attempts.isEmpty)
        }
    }

    @Test("attempts are listed oldest first, the running one last; a finished job has its finish time")
    func attemptsAndFinish() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let viewerToken = try server.token("acme", [.viewer])
            let workerToken = try server.token("acme", [.worker])
            let id = try await Self.submit(server, token: try server.token("acme", [.operator]))[0]
            let stream = try server.leaseStream(token: workerToken, queues: ["emails"], capacity: 1, worker: "w-7")
            defer { stream.cancel() }
            let leasedFirst = await stream.waitFor(1)
            try #require(leasedFirst)
            let first = stream.jobs[0]
            let _: V1.FailAttemptResponse = try await server.call(
                .failAttempt,
                V1.FailAttemptRequest(
                    jobID: id, leaseToken: first.leaseToken, errorMessage: "smtp down", retryAfterMs: 1),
                token: workerToken)
            let leasedSecond = await stream.waitFor(2)
            try #require(leasedSecond)

            let running = try await Self.get(server, id, token: viewerToken, attempts: true)
            #expect(running.job?.state == .running)
            #expect(running.job?.attempts == 2)
            #expect(running.job?.lastError == "smtp down")
            #expect(running.job?.startedAtUnixMs ?? 0 > 0)
            #expect(running.attempts.map(\.number) == [1, 2])
            #expect(running.attempts.map(\.outcome) == [.failed, .running])
            #expect(running.attempts.first?.errorMessage == "smtp down")
            #expect(running.attempts.map(\.workerID) == ["w-7", "w-7"])
            #expect(running.attempts.first?.finishedAtUnixMs ?? 0 >= running.attempts.first?.startedAtUnixMs ?? 1)
            #expect(running.attempts.last?.finishedAtUnixMs == 0)

            let second = stream.jobs[1]
            let _: V1.CompleteAttemptResponse = try await server.call(
                .completeAttempt,
                V1.CompleteAttemptRequest(jobID: id, leaseToken: second.leaseToken, resultJSON: Array("[1,2]".utf8)),
                token: workerToken)
            let done = try await Self.get(server, id, token: viewerToken, attempts: true)
            #expect(done.job?.state == .succeeded)
            #expect(done.job?.finishedAtUnixMs ?? 0 > 0)
            #expect(done.job?.dueAtUnixMs == 0)
            #expect(done.job?.resultJSON == Array("[1, 2]".utf8) || done.job?.resultJSON == Array("[1,2]".utf8))
            #expect(done.attempts.map(\.outcome) == [.failed, .succeeded])
        }
    }

    @Test("another tenant's job is NOT_FOUND for get, cancel and retry, exactly as a missing one, and stays as it was")
    func otherTenantsJob() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme", "globex")
            let acmeID = try await Self.submit(server, token: try server.token("acme", [.operator]))[0]
            let globex = try server.token("globex", [.admin])
            let missingID = UUID().uuidString.lowercased()
            let calls: [(MethodDescriptor, (String) -> any ProtoMessage)] = [
                (.getJob, { V1.GetJobRequest(jobID: $0) }),
                (.cancelJob, { V1.CancelJobRequest(jobID: $0, reason: "mine now") }),
                (.retryJob, { V1.RetryJobRequest(jobID: $0) }),
            ]
            for (method, request) in calls {
                let theirs = await server.status(method, request(acmeID), token: globex)
                let missing = await server.status(method, request(missingID), token: globex)
                #expect(theirs.code == .notFound, "\(method.fullName)")
                #expect(missing.code == .notFound, "\(method.fullName)")
                #expect(
                    Self.shape(theirs.message, ids: [acmeID]) == Self.shape(missing.message, ids: [missingID]),
                    "\(method.fullName)")
                #expect(theirs.details == missing.details)
            }
            let still = try await Self.get(server, acmeID, token: try server.token("acme", [.viewer]))
            #expect(still.job?.state == .pending)
            #expect(still.job?.cancelReason == "")
            let listed = try await Self.listIDs(server, V1.ListJobsRequest(), token: globex)
            #expect(listed.isEmpty)
        }
    }

    // MARK: - Listing

    @Test("list filters by queue, state, labels and creation time")
    func listFilters() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme", "globex")
            let token = try server.token("acme", [.operator])
            let early = try await Self.submit(server, token: token, queue: "emails", labels: ["tier": "gold"], count: 2)
            try await Task.sleep(for: .milliseconds(50))
            let boundary = Int64(Date().timeIntervalSince1970 * 1_000)
            try await Task.sleep(for: .milliseconds(50))
            let late = try await Self.submit(server, token: token, queue: "sms", labels: ["tier": "free"], count: 3)
            let cancelled: V1.CancelJobResponse = try await server.call(
                .cancelJob, V1.CancelJobRequest(jobID: late[0], reason: "duplicate"), token: token)
            #expect(cancelled.job?.state == .cancelled)
            _ = try await Self.submit(server, token: try server.token("globex", [.operator]), queue: "emails")

            let all = try await Self.listIDs(server, V1.ListJobsRequest(), token: token)
            #expect(all == Set(early + late))
            let byQueue = try await Self.listIDs(server, V1.ListJobsRequest(queue: "emails"), token: token)
            #expect(byQueue == Set(early))
            let byState = try await Self.listIDs(server, V1.ListJobsRequest(states: [.cancelled]), token: token)
            #expect(byState == [late[0]])
            let pendingSMS = try await Self.listIDs(
                server, V1.ListJobsRequest(queue: "sms", states: [.pending, .running]), token: token)
            #expect(pendingSMS == Set(late.dropFirst()))
            let byLabel = try await Self.listIDs(
                server, V1.ListJobsRequest(labels: V1.LabelSelector(matchLabels: ["tier": "free"])), token: token)
            #expect(byLabel == Set(late))
            let noLabel = try await Self.listIDs(
                server, V1.ListJobsRequest(labels: V1.LabelSelector(matchLabels: ["tier": "none"])), token: token)
            #expect(noLabel.isEmpty)
            let after = try await Self.listIDs(
                server, V1.ListJobsRequest(createdAfterUnixMs: boundary), token: token)
            #expect(after == Set(late))
            let before = try await Self.listIDs(
                server, V1.ListJobsRequest(createdBeforeUnixMs: boundary), token: token)
            #expect(before == Set(early))
        }
    }

    @Test("paging through more than one page gives every job once, newest first")
    func paging() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.viewer, .operator])
            var submitted: [String] = []
            for _ in 0..<4 {
                submitted += try await Self.submit(server, token: token, count: 6)
                try await Task.sleep(for: .milliseconds(5))
            }
            let (ids, pages) = try await Self.listAll(server, V1.ListJobsRequest(), pageSize: 5, token: token)
            #expect(pages == 5)
            #expect(ids.count == 24)
            #expect(Set(ids).count == ids.count, "a job was listed twice")
            #expect(Set(ids) == Set(submitted), "a job was left out")
            // Newest first: the last batch's jobs come before the first batch's.
            let firstBatch = Set(submitted.prefix(6))
            let lastBatch = Set(submitted.suffix(6))
            #expect(Set(ids.prefix(6)) == lastBatch)
            #expect(Set(ids.suffix(6)) == firstBatch)

            let default100: V1.ListJobsResponse = try await server.call(
                .listJobs, V1.ListJobsRequest(), token: token)
            #expect(default100.jobs.count == 24)
            #expect(default100.nextPageToken.isEmpty)
        }
    }

    @Test("a tampered page token, another tenant's or another listing's is refused as INVALID_ARGUMENT")
    func pageTokens() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme", "globex")
            let acme = try server.token("acme", [.operator])
            let globex = try server.token("globex", [.operator])
            _ = try await Self.submit(server, token: acme, count: 3)
            _ = try await Self.submit(server, token: globex, count: 3)
            let first: V1.ListJobsResponse = try await server.call(
                .listJobs, V1.ListJobsRequest(page: V1.PageRequest(pageSize: 1)), token: acme)
            let token = first.nextPageToken
            #expect(!token.isEmpty)
            let followed: V1.ListJobsResponse = try await server.call(
                .listJobs, V1.ListJobsRequest(page: V1.PageRequest(pageSize: 1, pageToken: token)), token: acme)
            #expect(followed.jobs.count == 1 && followed.jobs[0].id != first.jobs[0].id)

            var tampered = Array(token)
            let index = tampered.count / 2
            tampered[index] = tampered[index] == "A" ? "B" : "A"
            let edited = await server.status(
                .listJobs, V1.ListJobsRequest(page: V1.PageRequest(pageSize: 1, pageToken: String(tampered))),
                token: acme)
            #expect(edited.code == .invalidArgument)
            #expect(edited.message.contains("page token"))

            let stolen = await server.status(
                .listJobs, V1.ListJobsRequest(page: V1.PageRequest(pageSize: 1, pageToken: token)), token: globex)
            #expect(stolen.code == .invalidArgument)

            let deadLetters = await server.status(
                .listDeadLetters, V1.ListDeadLettersRequest(page: V1.PageRequest(pageSize: 1, pageToken: token)),
                token: acme)
            #expect(deadLetters.code == .invalidArgument)

            let garbage = await server.status(
                .listJobs, V1.ListJobsRequest(page: V1.PageRequest(pageToken: "not a token")), token: acme)
            #expect(garbage.code == .invalidArgument)
        }
    }

    // MARK: - Cancelling

    @Test("cancelling a pending job ends it with its reason, audited; a second cancel is FAILED_PRECONDITION")
    func cancelPending() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            let id = try await Self.submit(server, token: token)[0]
            let viewerCancel = await server.status(
                .cancelJob, V1.CancelJobRequest(jobID: id), token: try server.token("acme", [.viewer]))
            #expect(viewerCancel.code == .permissionDenied)

            let cancelled: V1.CancelJobResponse = try await server.call(
                .cancelJob, V1.CancelJobRequest(jobID: id, reason: "customer left"), token: token)
            #expect(cancelled.job?.state == .cancelled)
            #expect(cancelled.job?.cancelReason == "customer left")
            #expect(cancelled.job?.finishedAtUnixMs ?? 0 > 0)
            let again = await server.status(.cancelJob, V1.CancelJobRequest(jobID: id), token: token)
            #expect(again.code == .failedPrecondition)
            #expect(again.message.contains("already cancelled"))

            let stream = try server.leaseStream(
                token: try server.token("acme", [.worker]), queues: ["emails"], capacity: 1)
            defer { stream.cancel() }
            try await Task.sleep(for: .milliseconds(300))
            #expect(stream.jobs.isEmpty, "a cancelled job was leased")

            let audit: V1.ListAuditRecordsResponse = try await server.call(
                .listAuditRecords, V1.ListAuditRecordsRequest(resourceID: id), token: try server.token("acme", [.admin])
            )
            let cancels = audit.records.filter { $0.method == "gnomon.v1.JobService/CancelJob" }
            #expect(cancels.map(\.outcome).sorted { $0.rawValue < $1.rawValue } == [.succeeded, .failed])
        }
    }

    @Test("cancelling a running job revokes its lease on the worker's stream; its completion then changes nothing")
    func cancelRunning() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let operatorToken = try server.token("acme", [.operator])
            let workerToken = try server.token("acme", [.worker])
            let ids = try await Self.submit(server, token: operatorToken, count: 2)
            let stream = try server.leaseStream(token: workerToken, queues: ["emails"], capacity: 2)
            defer { stream.cancel() }
            let leasedBoth = await stream.waitFor(2)
            try #require(leasedBoth)
            let victim = try #require(stream.jobs.first { $0.job?.id == ids[0] })
            let other = try #require(stream.jobs.first { $0.job?.id == ids[1] })

            let cancelled: V1.CancelJobResponse = try await server.call(
                .cancelJob, V1.CancelJobRequest(jobID: ids[0], reason: "wrong recipient"), token: operatorToken)
            #expect(cancelled.job?.state == .cancelled)
            let deadline = ContinuousClock.now + .seconds(5)
            while stream.revocations.isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(
                stream.revocations == [V1.LeaseRevoked(jobID: ids[0], attempt: victim.attempt, reason: .cancelled)])

            let late = await server.status(
                .completeAttempt, V1.CompleteAttemptRequest(jobID: ids[0], leaseToken: victim.leaseToken),
                token: workerToken)
            #expect(late.code == .failedPrecondition)
            let after = try await Self.get(server, ids[0], token: operatorToken, attempts: true)
            #expect(after.job?.state == .cancelled)
            #expect(after.job?.cancelReason == "wrong recipient")
            #expect(after.attempts.map(\.outcome) == [.cancelled])

            // The other job runs on, unrevoked, and a job submitted now takes the freed slot.
            let _: V1.CompleteAttemptResponse = try await server.call(
                .completeAttempt, V1.CompleteAttemptRequest(jobID: ids[1], leaseToken: other.leaseToken),
                token: workerToken)
            let next = try await Self.submit(server, token: operatorToken)[0]
            let leasedNext = await stream.waitFor(3)
            #expect(leasedNext)
            #expect(stream.jobs.last?.job?.id == next)
            #expect(stream.revocations.count == 1)
        }
    }

    // MARK: - Retrying

    @Test("a dead job retried is pending again and a worker gets it; pending and running jobs cannot be retried")
    func retryDead() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let operatorToken = try server.token("acme", [.operator])
            let dead = try await Self.killed(server, queue: "emails", count: 1)[0]
            let read = try await Self.get(server, dead, token: operatorToken)
            #expect(read.job?.state == .dead)
            #expect(read.job?.lastError == "poison")

            let pending = try await Self.submit(server, token: operatorToken, queue: "later")[0]
            let refused = await server.status(.retryJob, V1.RetryJobRequest(jobID: pending), token: operatorToken)
            #expect(refused.code == .failedPrecondition)
            #expect(refused.message.contains("pending"))

            let workerToken = try server.token("acme", [.worker])
            let stream = try server.leaseStream(token: workerToken, queues: ["emails"], capacity: 5, worker: "w-2")
            defer { stream.cancel() }
            try await Task.sleep(for: .milliseconds(200))
            #expect(stream.jobs.isEmpty)

            let retried: V1.RetryJobResponse = try await server.call(
                .retryJob, V1.RetryJobRequest(jobID: dead, resetAttempts: true), token: operatorToken)
            #expect(retried.job?.state == .pending)
            #expect(retried.job?.attempts == 0)
            let leased = await stream.waitFor(1, within: .seconds(5))
            #expect(leased)
            #expect(stream.jobs.first?.job?.id == dead)
            #expect(stream.jobs.first?.attempt == 1)

            let running = await server.status(.retryJob, V1.RetryJobRequest(jobID: dead), token: operatorToken)
            #expect(running.code == .failedPrecondition)
            #expect(running.message.contains("running"))
        }
    }

    // MARK: - Dead letters

    @Test("dead letters list with their last attempt, by queue and labels, a page at a time")
    func listDeadLetters() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme", "globex")
            let emails = try await Self.killed(server, queue: "emails", labels: ["tier": "gold"], count: 3)
            let sms = try await Self.killed(server, queue: "sms", count: 1)
            let viewer = try server.token("acme", [.viewer])

            var collected: [V1.DeadLetter] = []
            var page = V1.PageRequest(pageSize: 2)
            for _ in 0..<5 {
                let response: V1.ListDeadLettersResponse = try await server.call(
                    .listDeadLetters, V1.ListDeadLettersRequest(page: page), token: viewer)
                #expect(response.deadLetters.count <= 2)
                collected += response.deadLetters
                if response.nextPageToken.isEmpty {
                    break
                }
                page = V1.PageRequest(pageSize: 2, pageToken: response.nextPageToken)
            }
            #expect(collected.compactMap { $0.job?.id }.sorted() == (emails + sms).sorted())
            // The most recently dead first.
            #expect(collected.first?.job?.id == sms[0])
            let letter = try #require(collected.first)
            #expect(letter.job?.state == .dead)
            #expect(letter.lastAttempt?.outcome == .failedFinal)
            #expect(letter.lastAttempt?.errorMessage == "poison")
            #expect(letter.lastAttempt?.number == 1)
            #expect(letter.deadAtUnixMs > 0)
            #expect(letter.expiresAtUnixMs > letter.deadAtUnixMs)

            let gold: V1.ListDeadLettersResponse = try await server.call(
                .listDeadLetters,
                V1.ListDeadLettersRequest(labels: V1.LabelSelector(matchLabels: ["tier": "gold"])), token: viewer)
            #expect(Set(gold.deadLetters.compactMap { $0.job?.id }) == Set(emails))
            let smsOnly: V1.ListDeadLettersResponse = try await server.call(
                .listDeadLetters, V1.ListDeadLettersRequest(queue: "sms"), token: viewer)
            #expect(smsOnly.deadLetters.compactMap { $0.job?.id } == sms)
            let theirs: V1.ListDeadLettersResponse = try await server.call(
                .listDeadLetters, V1.ListDeadLettersRequest(), token: try server.token("globex", [.viewer]))
            #expect(theirs.deadLetters.isEmpty)
        }
    }

    @Test("redrive by id and by selection moves dead jobs back to pending, bounded by the limit")
    func redrive() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme", "globex")
            let emails = try await Self.killed(server, queue: "emails", count: 3)
            let sms = try await Self.killed(server, queue: "sms", count: 1)
            let operatorToken = try server.token("acme", [.operator])
            let viewerRedrive = await server.status(
                .redriveDeadLetters, V1.RedriveDeadLettersRequest(jobIDs: sms),
                token: try server.token("acme", [.viewer]))
            #expect(viewerRedrive.code == .permissionDenied)
            let otherTenant: V1.RedriveDeadLettersResponse = try await server.call(
                .redriveDeadLetters, V1.RedriveDeadLettersRequest(jobIDs: sms),
                token: try server.token("globex", [.operator]))
            #expect(otherTenant.jobIDs.isEmpty)

            let byID: V1.RedriveDeadLettersResponse = try await server.call(
                .redriveDeadLetters, V1.RedriveDeadLettersRequest(jobIDs: sms, resetAttempts: true),
                token: operatorToken)
            #expect(byID.jobIDs == sms)
            #expect(!byID.more)
            let smsJob = try await Self.get(server, sms[0], token: operatorToken)
            #expect(smsJob.job?.state == .pending)
            #expect(smsJob.job?.attempts == 0)

            let firstTwo: V1.RedriveDeadLettersResponse = try await server.call(
                .redriveDeadLetters, V1.RedriveDeadLettersRequest(queue: "emails", limit: 2), token: operatorToken)
            #expect(firstTwo.jobIDs.count == 2)
            #expect(firstTwo.more)
            let rest: V1.RedriveDeadLettersResponse = try await server.call(
                .redriveDeadLetters, V1.RedriveDeadLettersRequest(queue: "emails", delayMs: 60_000),
                token: operatorToken)
            #expect(rest.jobIDs.count == 1)
            #expect(!rest.more)
            #expect(Set(firstTwo.jobIDs + rest.jobIDs) == Set(emails))
            let delayed = try await Self.get(server, rest.jobIDs[0], token: operatorToken)
            #expect(delayed.job?.dueAtUnixMs ?? 0 > Int64(Date().timeIntervalSince1970 * 1_000) + 30_000)
            #expect(delayed.job?.attempts == 1, "attempts were reset without reset_attempts")

            let left: V1.ListDeadLettersResponse = try await server.call(
                .listDeadLetters, V1.ListDeadLettersRequest(), token: operatorToken)
            #expect(left.deadLetters.isEmpty)

            // A worker gets the redriven jobs that are due now. The streams that killed them
            // were cancelled by the client, but the server may not have ended them yet, and
            // one of those may take a job too: what is checked is that every due job is leased.
            let stream = try server.leaseStream(
                token: try server.token("acme", [.worker]), queues: ["emails", "sms"], capacity: 10, worker: "w-9")
            defer { stream.cancel() }
            let due = firstTwo.jobIDs + sms
            try await eventually(within: .seconds(30), "every redriven job that is due is leased") {
                for id in due where try await Self.get(server, id, token: operatorToken).job?.state != .running {
                    return false
                }
                return true
            }
            let streamed = Set(stream.jobs.compactMap { $0.job?.id })
            #expect(streamed.isSubset(of: Set(due)), "the stream got \(streamed)")
            let later = try await Self.get(server, rest.jobIDs[0], token: operatorToken)
            #expect(later.job?.state == .pending)
        }
    }

    @Test("a redrive or retry the pending-jobs quota refuses changes nothing")
    func quotaRefusal() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let dead = try await Self.killed(server, queue: "emails", count: 2)
            let _: V1.SetQuotasResponse = try await server.call(
                .setQuotas,
                V1.SetQuotasRequest(
                    tenantID: "acme", quotas: V1.Quotas(maxPendingJobs: 2), updateMask: ["max_pending_jobs"]),
                token: try server.token(nil, [.platformAdmin]))
            let operatorToken = try server.token("acme", [.operator])
            let pending = try await Self.submit(server, token: operatorToken, queue: "other")

            let refused = await server.status(
                .redriveDeadLetters, V1.RedriveDeadLettersRequest(queue: "emails"), token: operatorToken)
            #expect(refused.code == .resourceExhausted)
            let quota = refused.details.compactMap { detail -> V1.QuotaFailure? in
                if case .quotaFailure(let failure) = detail.detail { return failure }
                return nil
            }
            #expect(quota.map(\.quota) == ["max_pending_jobs"])
            #expect(quota.first?.limit == 2)

            let stillDead: V1.ListDeadLettersResponse = try await server.call(
                .listDeadLetters, V1.ListDeadLettersRequest(), token: operatorToken)
            #expect(Set(stillDead.deadLetters.compactMap { $0.job?.id }) == Set(dead))
            let live = try await Self.listIDs(
                server, V1.ListJobsRequest(states: [.pending, .running, .retryWait]), token: operatorToken)
            #expect(live == Set(pending))

            _ = try await Self.submit(server, token: operatorToken, queue: "other")
            let retry = await server.status(.retryJob, V1.RetryJobRequest(jobID: dead[0]), token: operatorToken)
            #expect(retry.code == .resourceExhausted)
            let job = try await Self.get(server, dead[0], token: operatorToken)
            #expect(job.job?.state == .dead)
            let audit: V1.ListAuditRecordsResponse = try await server.call(
                .listAuditRecords, V1.ListAuditRecordsRequest(method: "gnomon.v1.DeadLetterService/RedriveDeadLetters"),
                token: try server.token("acme", [.admin]))
            #expect(audit.records.map(\.outcome) == [.failed])
        }
    }

    // MARK: - Bad input

    @Test("bad ids, page sizes, reasons, states, queues and limits are INVALID_ARGUMENT naming the field")
    func badInputs() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            let id = try await Self.submit(server, token: token)[0]
            let cases: [(MethodDescriptor, any ProtoMessage, String)] = [
                (.getJob, V1.GetJobRequest(jobID: "job-17"), "job_id"),
                (.cancelJob, V1.CancelJobRequest(jobID: ""), "job_id"),
                (.retryJob, V1.RetryJobRequest(jobID: "\(id)x"), "job_id"),
                (.cancelJob, V1.CancelJobRequest(jobID: id, reason: String(repeating: "r", count: 1_025)), "reason"),
                (.listJobs, V1.ListJobsRequest(page: V1.PageRequest(pageSize: 5_000)), "page_size"),
                (.listJobs, V1.ListJobsRequest(states: [.pending, .unspecified]), "states[1]"),
                (.listJobs, V1.ListJobsRequest(queue: "no spaces"), "queue"),
                (.listJobs, V1.ListJobsRequest(createdAfterUnixMs: -1), "created_after_unix_ms"),
                (
                    .listJobs, V1.ListJobsRequest(labels: V1.LabelSelector(matchLabels: ["": "x"])),
                    "labels.match_labels"
                ),
                (.listDeadLetters, V1.ListDeadLettersRequest(page: V1.PageRequest(pageSize: 1_001)), "page_size"),
                (.redriveDeadLetters, V1.RedriveDeadLettersRequest(jobIDs: [id, "nope"]), "job_ids[1]"),
                (.redriveDeadLetters, V1.RedriveDeadLettersRequest(limit: 1_001), "limit"),
                (.redriveDeadLetters, V1.RedriveDeadLettersRequest(delayMs: -5), "delay_ms"),
            ]
            for (method, request, field) in cases {
                let status = await server.status(method, request, token: token)
                #expect(status.code == .invalidArgument, "\(method.fullName) \(field): \(status.message)")
                #expect(status.message.hasPrefix(field), "\(method.fullName): \(status.message)")
            }
            let job = try await Self.get(server, id, token: token)
            #expect(job.job?.state == .pending, "a refused call changed the job")
        }
    }
}
