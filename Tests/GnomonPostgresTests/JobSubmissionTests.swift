import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import Synchronization
import Testing

/// Submitting jobs over TLS to an in-process node on a real PostgreSQL: validation,
/// idempotency, and quotas that hold under concurrency.
@Suite("Job submission, end to end", .serialized)
struct JobSubmissionTests {
    private static func spec(_ queue: String = "emails", key: String = "") -> V1.JobSpec {
        V1.JobSpec(queue: queue, payloadJSON: Array(#"{"to":"a@example.com"}"#.utf8), idempotencyKey: key)
    }

    @Test("a job is accepted with defaults; a repeat with its idempotency key returns the same job")
    func idempotentSubmit() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            let first: V1.SubmitJobResponse = try await server.call(
                .submitJob, V1.SubmitJobRequest(job: Self.spec(key: "order-17")), token: token)
            #expect(first.created)
            #expect(first.job?.state == .pending)
            #expect(first.job?.tenantID == "acme")
            let repeated: V1.SubmitJobResponse = try await server.call(
                .submitJob, V1.SubmitJobRequest(job: Self.spec(key: "order-17")), token: token)
            #expect(!repeated.created)
            #expect(repeated.job?.id == first.job?.id)
        }
    }

    @Test("20 racing submissions with one idempotency key make exactly one job")
    func racingIdempotentSubmits() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            let outcomes = try await withThrowingTaskGroup(of: V1.SubmitJobResponse.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await server.call(
                            .submitJob, V1.SubmitJobRequest(job: Self.spec(key: "race")), token: token)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.count { $0.created } == 1)
            #expect(Set(outcomes.compactMap { $0.job?.id }).count == 1)
            let platform = try server.token(nil, [.platformAdmin])
            let quotas: V1.GetQuotasResponse = try await server.call(
                .getQuotas, V1.GetQuotasRequest(tenantID: "acme"), token: platform)
            #expect(quotas.usage?.pendingJobs == 1)
        }
    }

    @Test("a wrong job is refused with every bad field named, in the message and the details")
    func invalidSpec() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            var spec = V1.JobSpec(queue: "bad queue!", payloadJSON: Array("{not json".utf8), priority: 5_000)
            spec.labels = ["": "x"]
            spec.backoff = V1.BackoffPolicy(multiplier: 0.5)
            let status = await server.status(.submitJob, V1.SubmitJobRequest(job: spec), token: token)
            #expect(status.code == .invalidArgument)
            let fields = status.details.compactMap { detail -> [String]? in
                if case .badRequest(let bad) = detail.detail { return bad.violations.map(\.field) }
                return nil
            }.flatMap { $0 }
            #expect(
                Set(fields) == [
                    "job.queue", "job.payload_json", "job.priority", "job.labels", "job.backoff.multiplier",
                ])
            #expect(status.message.contains("job.queue") && status.message.contains("'bad queue!'"))
        }
    }

    @Test("a batch accepts its good jobs and refuses its bad ones, each on its own")
    func batch() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            let jobs = [Self.spec(), Self.spec(""), Self.spec(), Self.spec("x y"), Self.spec(key: "k")]
            let response: V1.SubmitJobsResponse = try await server.call(
                .submitJobs, V1.SubmitJobsRequest(jobs: jobs), token: token)
            #expect(response.results.count == 5)
            let accepted = response.results.map { result -> Bool in
                if case .job = result.outcome { return true }
                return false
            }
            #expect(accepted == [true, false, true, false, true])
            if case .error(let error) = response.results[3].outcome {
                #expect(error.message.contains("jobs[3].queue"))
            }
            let empty = await server.status(.submitJobs, V1.SubmitJobsRequest(), token: token)
            #expect(empty.code == .invalidArgument)
        }
    }

    @Test("with one pending-job unit left, exactly one of 100 concurrent submissions succeeds")
    func pendingQuotaUnderRace() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let platform = try server.token(nil, [.platformAdmin])
            let _: V1.SetQuotasResponse = try await server.call(
                .setQuotas,
                V1.SetQuotasRequest(
                    tenantID: "acme", quotas: V1.Quotas(maxPendingJobs: 5), updateMask: ["max_pending_jobs"]),
                token: platform)
            let token = try server.token("acme", [.operator])
            let four: V1.SubmitJobsResponse = try await server.call(
                .submitJobs, V1.SubmitJobsRequest(jobs: Array(repeating: Self.spec(), count: 4)), token: token)
            #expect(four.results.count { $0.created } == 4)

            let statuses = await withTaskGroup(of: CallStatus.self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        await server.status(.submitJob, V1.SubmitJobRequest(job: Self.spec()), token: token)
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.count { $0.code == .ok } == 1)
            let refused = statuses.filter { $0.code == .resourceExhausted }
            #expect(refused.count == 99)
            let quota = refused.first?.details.compactMap { detail -> V1.QuotaFailure? in
                if case .quotaFailure(let failure) = detail.detail { return failure }
                return nil
            }.first
            #expect(quota?.quota == "max_pending_jobs")
            #expect(quota?.limit == 5)
        }
    }

    @Test("a submission over the rate is RESOURCE_EXHAUSTED with when to retry; a payload over the quota is refused")
    func rateAndPayload() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let platform = try server.token(nil, [.platformAdmin])
            let _: V1.SetQuotasResponse = try await server.call(
                .setQuotas,
                V1.SetQuotasRequest(
                    tenantID: "acme",
                    quotas: V1.Quotas(submitRatePerSecond: 0.01, submitBurst: 3, maxPayloadBytes: 100),
                    updateMask: ["submit_rate_per_second", "submit_burst", "max_payload_bytes"]),
                token: platform)
            let token = try server.token("acme", [.operator])
            for _ in 0..<3 {
                #expect(
                    await server.status(.submitJob, V1.SubmitJobRequest(job: Self.spec()), token: token).code == .ok)
            }
            let limited = await server.status(.submitJob, V1.SubmitJobRequest(job: Self.spec()), token: token)
            #expect(limited.code == .resourceExhausted)
            #expect(limited.message.contains("submission rate"))
            let retry = limited.details.compactMap { detail -> Int64? in
                if case .retryInfo(let info) = detail.detail { return info.retryAfterMs }
                return nil
            }.first
            #expect((retry ?? 0) > 50_000)

            var big = Self.spec()
            big.payloadJSON = Array(("\"" + String(repeating: "x", count: 200) + "\"").utf8)
            let tooBig = await server.status(.submitJob, V1.SubmitJobRequest(job: big), token: token)
            #expect(tooBig.code == .invalidArgument)
            #expect(tooBig.message.contains("over the tenant's limit of 100 bytes"))
        }
    }
}
