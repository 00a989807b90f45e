import Foundation
import GnomonCore
import GnomonStore
import GnomonTestSupport
import Synchronization
import Testing

/// Reading, cancelling and retrying jobs in tenants' transactions, in every state.
@Suite("Job control")
struct JobControlTests {
    @Test("get reads a job in every state with the fields a client sees", arguments: JobState.allCases)
    func getInEveryState(state: JobState) async throws {
        try await JobFixture.with { fixture in
            let (id, _) = try await fixture.makeJob(state, labels: ["team": "growth"])
            let job = try await fixture.tenant { connection, store in try store.get(id, on: connection) }

            #expect(job.id == id)
            #expect(job.tenantID == "acme")
            #expect(job.state == state)
            #expect(job.shard == fixture.store.shard(of: id))
            #expect(job.queue.hasPrefix("q-"))
            #expect(job.jobType == "report")
            #expect(job.payloadJSON == #"{"n": 1}"#)
            #expect(job.labels == ["team": "growth"])
            #expect(job.maxAttempts == 3)
            #expect(job.backoff == BackoffSettings(initialDelayMilliseconds: 3_600_000, jitter: 0))
            #expect(job.idempotencyKey == "key-" + job.queue)
            #expect(abs(job.createdAt.timeIntervalSinceNow) < 60)
            #expect(job.runAt == job.createdAt)
            #expect((job.dueAt == nil) == state.isFinished)
            #expect((job.finishedAt == nil) == !state.isFinished)
            #expect((job.startedAt == nil) == (state == .pending || state == .cancelled))
            #expect(job.attempts == ((state == .pending || state == .cancelled) ? 0 : 1))
            #expect((job.resultJSON == #"{"ok": true}"#) == (state == .succeeded))
            #expect((job.cancelReason == "not needed") == (state == .cancelled))
            switch state {
            case .retryWait: #expect(job.lastError == "flaky")
            case .dead: #expect(job.lastError == "broken")
            default: #expect(job.lastError == nil)
            }
        }
    }

    @Test("a job of another tenant is not found by get, cancel or retry, and stays as it was")
    func tenantIsolation() async throws {
        try await JobFixture.with { fixture in
            var jobs: [(UUID, JobState)] = []
            for state in [JobState.pending, .running, .retryWait, .dead, .cancelled, .succeeded] {
                jobs.append((try await fixture.makeJob(state).id, state))
            }
            let missing = UUID()
            let missingError = await #expect(throws: StoreError.self) {
                try await fixture.tenant("globex") { connection, store in try store.get(missing, on: connection) }
            }

            for (id, state) in jobs {
                let before = try await fixture.tenant { connection, store in try store.get(id, on: connection) }
                let operations: [@Sendable (PostgresConnection, JobStore) throws -> JobRecord] = [
                    { try $1.get(id, on: $0) },
                    { try $1.cancel(id, reason: "mine now", on: $0) },
                    { try $1.retry(id, resetAttempts: true, on: $0) },
                ]
                for operation in operations {
                    let error = await #expect(throws: StoreError.self) {
                        try await fixture.tenant("globex", operation)
                    }
                    #expect(error?.code == .notFound)
                    let expected = missingError?.message.replacingOccurrences(
                        of: missing.uuidString.lowercased(), with: id.uuidString.lowercased())
                    #expect(error?.message == expected)
                }
                let after = try await fixture.tenant { connection, store in try store.get(id, on: connection) }
                #expect(after == before, "acme's \(state) job changed")
            }
            let listed = try await fixture.tenant("globex") { connection, store in try store.list(on: connection) }
            #expect(listed.jobs.isEmpty)
            try await fixture.expectCountersExact("acme")
            #expect(try await fixture.usage("globex") == TenantUsage())
        }
    }

    @Test("cancel, in every state: live jobs end cancelled, finished ones are refused", arguments: JobState.allCases)
    func cancelMatrix(state: JobState) async throws {
        try await JobFixture.with { fixture in
            let (id, _) = try await fixture.makeJob(state)
            let before = try await fixture.tenant { connection, store in try store.get(id, on: connection) }

            if state.isFinished {
                let error = await #expect(throws: StoreError.self) {
                    try await fixture.tenant { connection, store in
                        try store.cancel(id, reason: "again", on: connection)
                    }
                }
                #expect(error?.code == .failedPrecondition)
                #expect(error?.message.hasPrefix("job \(id.uuidString.lowercased()) ") == true)
                #expect(error?.message.hasSuffix("; only pending, waiting or running jobs can be cancelled") == true)
                if state == .succeeded {
                    #expect(
                        error?.message
                            == "job \(id.uuidString.lowercased()) already succeeded; only pending, waiting or running "
                            + "jobs can be cancelled")
                }
                let after = try await fixture.tenant { connection, store in try store.get(id, on: connection) }
                #expect(after == before)
            } else {
                let cancelled = try await fixture.tenant { connection, store in
                    try store.cancel(id, reason: "changed my mind", on: connection)
                }
                #expect(cancelled.state == .cancelled)
                #expect(cancelled.cancelReason == "changed my mind")
                #expect(cancelled.finishedAt != nil)
                #expect(cancelled.dueAt == nil)
                #expect(cancelled.attempts == before.attempts)
                #expect(cancelled.lastError == before.lastError)
                #expect(cancelled.payloadJSON == before.payloadJSON)
                #expect(cancelled.createdAt == before.createdAt)
                let read = try await fixture.tenant { connection, store in try store.get(id, on: connection) }
                #expect(read == cancelled)
            }
            try await fixture.expectCountersExact()
            #expect(try await fixture.usage() == TenantUsage())
        }
    }

    @Test(
        "retry, in every state: dead, cancelled and waiting jobs become due now, others are refused",
        arguments: JobState.allCases, [false, true]
    )
    func retryMatrix(state: JobState, resetAttempts: Bool) async throws {
        try await JobFixture.with { fixture in
            let (id, _) = try await fixture.makeJob(state)
            let before = try await fixture.tenant { connection, store in try store.get(id, on: connection) }

            switch state {
            case .dead, .cancelled, .retryWait:
                let retried = try await fixture.tenant { connection, store in
                    try store.retry(id, resetAttempts: resetAttempts, on: connection)
                }
                #expect(retried.state == (state == .retryWait ? .retryWait : .pending))
                #expect(retried.attempts == (resetAttempts ? 0 : before.attempts))
                let due = try #require(retried.dueAt)
                #expect(abs(due.timeIntervalSinceNow) < 60)
                #expect(retried.finishedAt == nil)
                #expect(retried.cancelReason == nil)
                #expect(retried.createdAt == before.createdAt)
                #expect(retried.idempotencyKey == before.idempotencyKey)
                #expect(retried.labels == before.labels)

                // The job runs again.
                let attempt = try await fixture.claim(queue: retried.queue, shard: retried.shard)
                #expect(attempt.attempt == retried.attempts + 1)
            case .pending, .running, .succeeded:
                let error = await #expect(throws: StoreError.self) {
                    try await fixture.tenant { connection, store in
                        try store.retry(id, resetAttempts: resetAttempts, on: connection)
                    }
                }
                #expect(error?.code == .failedPrecondition)
                #expect(
                    error?.message.hasSuffix("; only dead, cancelled or waiting (retry_wait) jobs can be retried")
                        == true)
                let after = try await fixture.tenant { connection, store in try store.get(id, on: connection) }
                #expect(after == before)
            }
            try await fixture.expectCountersExact()
        }
    }

    @Test("cancelling a running job revokes its lease: the worker's later calls change nothing")
    func cancelRunning() async throws {
        try await JobFixture.with { fixture in
            let (id, attempt) = try await fixture.makeJob(.running)
            let token = try #require(attempt).leaseToken
            let shard = fixture.store.shard(of: id)
            #expect(try await fixture.usage() == TenantUsage(liveJobs: 1, runningJobs: 1))

            let notified = try await fixture.database.withConnection { connection in
                try connection.listen(JobStore.cancellationChannel)
                try connection.transaction { connection in
                    try connection.setTenant("acme")
                    _ = try JobStore.load(on: connection).cancel(id, reason: "stop", on: connection)
                }
                return try connection.notifications(waitingUpTo: .seconds(5))
            }
            #expect(notified.map(\.payload) == [id.uuidString.lowercased()])
            #expect(try await fixture.usage() == TenantUsage())

            let late = try await fixture.platform { connection, store in
                (
                    try store.heartbeat(jobID: id, shard: shard, leaseToken: token, on: connection),
                    try store.complete(
                        jobID: id, shard: shard, leaseToken: token, resultJSON: #"{"late": true}"#, on: connection),
                    try store.fail(jobID: id, shard: shard, leaseToken: token, errorMessage: "late", on: connection)
                )
            }
            #expect(late.0 == nil)
            #expect(!late.1)
            #expect(late.2 == nil)
            let job = try await fixture.tenant { connection, store in try store.get(id, on: connection) }
            #expect(job.state == .cancelled)
            #expect(job.resultJSON == nil)
            #expect(job.lastError == nil)
            #expect(job.attempts == 1)
            let attempts = try await fixture.platform { connection, _ in
                try connection.query(
                    "SELECT outcome, error_message FROM gnomon_job_attempts WHERE job_id = $1", [id]
                ).rows.map { [$0["outcome"], $0["error_message"]] }
            }
            #expect(attempts == [["cancelled", "stop"]])
            #expect(try await fixture.usage() == TenantUsage())
        }
    }

    @Test("a cancel racing the worker's completion ends in exactly one of the two")
    func cancelCompleteRace() async throws {
        try await JobFixture.with(maximumConnections: 8) { fixture in
            var outcomes: [String: Int] = [:]
            for _ in 0..<12 {
                let (id, attempt) = try await fixture.makeJob(.running)
                let token = try #require(attempt).leaseToken
                let shard = fixture.store.shard(of: id)
                async let cancelled = Self.outcome {
                    try await fixture.tenant { connection, store in
                        try store.cancel(id, reason: "race", on: connection)
                    }
                }
                async let completed = fixture.platform { connection, store in
                    try store.complete(jobID: id, shard: shard, leaseToken: token, resultJSON: nil, on: connection)
                }
                let (cancelOutcome, completeOutcome) = (await cancelled, try await completed)

                let job = try await fixture.tenant { connection, store in try store.get(id, on: connection) }
                switch cancelOutcome {
                case .success(let record):
                    #expect(!completeOutcome)
                    #expect(record.state == .cancelled)
                    #expect(job.state == .cancelled)
                    outcomes["cancelled", default: 0] += 1
                case .failure(let error):
                    #expect(completeOutcome)
                    #expect((error as? StoreError)?.code == .failedPrecondition)
                    #expect((error as? StoreError)?.message.contains("already succeeded") == true)
                    #expect(job.state == .succeeded)
                    outcomes["succeeded", default: 0] += 1
                }
                let places = try await fixture.platform { connection, _ in
                    try connection.query(
                        """
                        SELECT (SELECT count(*) FROM gnomon_jobs WHERE id = $1)
                            + (SELECT count(*) FROM gnomon_job_history WHERE id = $1)
                            + (SELECT count(*) FROM gnomon_dead_letters WHERE id = $1) AS n
                        """,
                        [id]
                    ).first?.int("n")
                }
                #expect(places == 1)
            }
            #expect(outcomes.values.reduce(0, +) == 12)
            #expect(try await fixture.usage() == TenantUsage())
        }
    }

    private static func outcome<T: Sendable>(_ body: @Sendable () async throws -> T) async -> Result<T, any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    @Test("a retry that the pending quota refuses leaves the job where it was")
    func retryOverQuota() async throws {
        try await JobFixture.with { fixture in
            let (dead, _) = try await fixture.makeJob(.dead)
            try await fixture.makeJob(.pending)
            let error = await #expect(throws: StoreError.self) {
                try await fixture.tenant { connection, store in
                    try store.retry(dead, pendingLimit: 1, on: connection)
                }
            }
            #expect(error?.code == .quotaExceeded)
            #expect(error?.quota == QuotaViolation(quota: "max_pending_jobs", limit: 1, current: 1, requested: 1))
            let job = try await fixture.tenant { connection, store in try store.get(dead, on: connection) }
            #expect(job.state == .dead)
            try await fixture.expectCountersExact()

            let retried = try await fixture.tenant { connection, store in
                try store.retry(dead, pendingLimit: 2, on: connection)
            }
            #expect(retried.state == .pending)
            #expect(try await fixture.usage() == TenantUsage(liveJobs: 2))
        }
    }

    @Test("a missing job is not found, and a cancel reason over the limit is refused")
    func badInput() async throws {
        try await JobFixture.with { fixture in
            let id = UUID()
            for operation: @Sendable (PostgresConnection, JobStore) throws -> JobRecord in [
                { try $1.get(id, on: $0) }, { try $1.cancel(id, reason: "", on: $0) }, { try $1.retry(id, on: $0) },
            ] {
                let error = await #expect(throws: StoreError.self) { try await fixture.tenant("acme", operation) }
                #expect(error?.code == .notFound)
                #expect(error?.message.contains(id.uuidString.lowercased()) == true)
            }
            let (pending, _) = try await fixture.makeJob(.pending)
            let error = await #expect(throws: StoreError.self) {
                try await fixture.tenant { connection, store in
                    try store.cancel(pending, reason: String(repeating: "x", count: 1_025), on: connection)
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("at most 1024") == true)
        }
    }
}
