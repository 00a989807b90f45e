import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol

extension EngineBenchmark {
    /// The most a backlog may raise the p99 at 1,000 jobs/s, as a multiple of the empty run's.
    static let backlogTarget = BenchTarget.atMost(1.5, "1.5×")
    /// How far ahead the not-yet-due backlog is due.
    static let backlogDelay: Int64 = 30 * 86_400_000

    /// Runs the steady load at 1,000 jobs/s beside a backlog that is not yet due, then beside a
    /// second tenant's runnable backlog as well, and compares each p99 with the empty run's.
    ///
    /// The empty run is the steady run at 1,000 jobs/s when there was one; otherwise it is run
    /// here first. Both backlogs are submitted through `SubmitJobs` in batches, with the lease
    /// streams open; they stay until the end, so the second run has both.
    ///
    /// - Throws: ``BenchError`` or ``CallStatus`` when the second tenant cannot be made.
    func measureBacklog() async throws {
        let rate = EngineBenchmarkOptions.backlogRate
        let count = self.options.backlogJobs
        let empty: LatencyDistribution
        if let steady = self.steadyLatencies[rate] {
            empty = steady
        } else {
            empty = await self.measureOpenLoop(rate: rate, label: "backlog: empty run at \(formatCount(rate)) jobs/s")
        }

        let dueLater = Int64(Date().timeIntervalSince1970 * 1_000) + Self.backlogDelay
        let later = BenchJobPayload(run: 0, time: 0).json
        await self.loadBacklog(count, label: "not yet due, in the workers' queue", token: self.adminToken) { _ in
            V1.JobSpec(queue: Self.queue, payloadJSON: later, start: .runAtUnixMs(dueLater))
        }
        await self.measureOpenLoop(
            rate: rate, label: "backlog: \(formatCount(rate)) jobs/s beside \(formatCount(count)) jobs not yet due",
            baseline: (empty, Self.backlogTarget))

        let otherToken = try await self.makeOtherTenant()
        let runnable = BenchJobPayload(run: 0, time: 0).json
        await self.loadBacklog(count, label: "runnable, another tenant's queue", token: otherToken) { _ in
            V1.JobSpec(queue: "backlog", payloadJSON: runnable)
        }
        await self.measureOpenLoop(
            rate: rate,
            label: "backlog: \(formatCount(rate)) jobs/s beside both backlogs (\(formatCount(count)) more runnable "
                + "in tenant \(Self.otherTenant))",
            baseline: (empty, Self.backlogTarget))
    }

    private func loadBacklog(
        _ count: Int,
        label: String,
        token: String,
        makeJob: @escaping @Sendable (Int) -> V1.JobSpec
    ) async {
        printProgress("backlog: submitting \(formatCount(count)) jobs, \(label)")
        let before = self.cpuTimes()
        let outcome = await self.makeSubmitter(token: token).submit(count: count, label: "backlog", makeJob: makeJob)
        self.report.add(
            "backlog: jobs submitted per second, \(label)",
            formatRate(outcome.accepted, per: outcome.elapsed),
            note: "\(formatCount(outcome.accepted)) jobs in \(formatMilliseconds(outcome.elapsed)) through SubmitJobs, "
                + "batches of 1,000, with the lease streams open; "
                + self.cpuTimes().usage(since: before, over: outcome.elapsed) + outcome.failureNote
        )
    }

    /// Creates the second tenant as the platform admin and mints a token that may submit to it.
    private func makeOtherTenant() async throws -> String {
        let request = V1.CreateTenantRequest(tenantID: Self.otherTenant, displayName: "gnomon-bench backlog")
        _ = try await self.submitChannels[0].unary(
            .createTenant, payload: try request.serializedBytes(),
            metadata: V1.CallMetadata(authorization: "Bearer \(self.platformToken)"), deadline: .now + .seconds(30))
        return try self.signer.sign(
            principal: Principal(tenantID: Self.otherTenant, subject: "bench-producer", roles: [.operator]),
            issuer: DevelopmentSigningKey.issuer, audience: "gnomon", lifetime: .seconds(4 * 3_600))
    }
}
