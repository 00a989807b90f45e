import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol

extension EngineBenchmark {
    /// The most a backlog may raise the p99 at 1,000 jobs/s, as a multiple of the empty run's.
    static let backlogTarget = BenchTarget.atMost(1.5, "1.5×")
    /// How far ahead the backlog is due, in milliseconds: hours, so that no job of it becomes
    /// due within any run.
    static let backlogDelay: Int64 = 6 * 3_600_000

    /// Runs the steady load at `--backlog-rate` (1,000 jobs/s) into a queue that holds a backlog
    /// not yet due, and compares its p99 with the empty run's.
    ///
    /// The empty run is the steady run at that rate when there was one; otherwise it is run
    /// here first. The backlog goes in through `SubmitJobs` in batches before the workers open
    /// their streams on the queue; it stays in the table until the end of the benchmark.
    ///
    /// - Throws: ``ProtocolError`` when the workers' request cannot be encoded.
    func measureBacklog() async throws {
        let rate = self.options.backlogRate
        let count = self.options.backlogJobs
        let empty: LatencyDistribution
        if let steady = self.steadyLatencies[rate] {
            empty = steady
        } else {
            let label = "backlog: empty run at \(formatCount(rate)) jobs/s"
            empty = try await self.profiled(label) {
                try await self.measureOpenLoop(rate: rate, label: label, lead: .zero)
            }
        }

        let queue = "bench-backlog"
        let dueLater = Int64(Date().timeIntervalSince1970 * 1_000) + Self.backlogDelay
        let payload = BenchJobPayload(run: 0, time: 0).json
        await self.profiled("backlog: submit") {
            await self.loadBacklog(count, queue: queue) { _ in
                V1.JobSpec(queue: queue, payloadJSON: payload, start: .runAtUnixMs(dueLater))
            }
        }
        let label = "backlog: \(formatCount(rate)) jobs/s beside \(formatCount(count)) jobs not yet due"
        try await self.profiled(label) {
            try await self.measureOpenLoop(
                rate: rate, label: label, lead: .zero, queue: queue, baseline: (empty, Self.backlogTarget))
        }
    }

    private func loadBacklog(
        _ count: Int,
        queue: String,
        makeJob: @escaping @Sendable (Int) -> V1.JobSpec
    ) async {
        printProgress("backlog: submitting \(formatCount(count)) jobs due in 6 hours to queue \(queue)")
        let before = self.cpuTimes()
        let outcome = await self.makeSubmitter().submit(count: count, label: "backlog", makeJob: makeJob)
        self.report.add(
            "backlog: jobs submitted per second, due in 6 hours",
            formatRate(outcome.accepted, per: outcome.elapsed),
            note: "\(formatCount(outcome.accepted)) jobs in \(formatMilliseconds(outcome.elapsed)) through SubmitJobs, "
                + "batches of 1,000, to the queue of the run below, before its workers opened their streams; "
                + self.cpuTimes().usage(since: before, over: outcome.elapsed) + outcome.failureNote
        )
    }
}

extension EngineBenchmark {
    /// The tenant whose runnable backlog the `neighbour` phase makes.
    static let neighbourTenant = "bench-neighbour"

    /// Runs the steady load at `--backlog-rate` for the `default` tenant while another tenant
    /// has `--neighbour-backlog` jobs due now and no worker, and compares the p99 with the
    /// `default` tenant's run on an empty table (the steady run at that rate, or one made here).
    ///
    /// - Throws: ``ProtocolError``, or the refusal of the tenant's creation.
    func measureNeighbourBacklog() async throws {
        let rate = self.options.backlogRate
        let count = self.options.neighbourBacklogJobs
        let empty: LatencyDistribution
        if let steady = self.steadyLatencies[rate] {
            empty = steady
        } else {
            let label = "neighbour: empty run at \(formatCount(rate)) jobs/s"
            empty = try await self.profiled(label) {
                try await self.measureOpenLoop(rate: rate, label: label, lead: .zero)
            }
        }
        let token = try await self.createNeighbour()
        let payload = BenchJobPayload(run: 0, time: 0).json
        await self.profiled("neighbour: submit") {
            printProgress("neighbour: submitting \(formatCount(count)) jobs due now for tenant \(Self.neighbourTenant)")
            let before = self.cpuTimes()
            let submitter = BatchSubmitter(
                channels: self.submitChannels, callsPerChannel: self.options.batchesInFlight, token: token)
            let outcome = await submitter.submit(count: count, label: "neighbour") { _ in
                V1.JobSpec(queue: "bench-neighbour", payloadJSON: payload)
            }
            self.report.add(
                "neighbour: jobs submitted per second, due now, for another tenant",
                formatRate(outcome.accepted, per: outcome.elapsed),
                note: "\(formatCount(outcome.accepted)) jobs in \(formatMilliseconds(outcome.elapsed)) for tenant "
                    + "\(Self.neighbourTenant), which has no worker, so they stay runnable; "
                    + self.cpuTimes().usage(since: before, over: outcome.elapsed) + outcome.failureNote)
        }
        let label =
            "neighbour: \(formatCount(rate)) jobs/s beside \(formatCount(count)) runnable jobs of another tenant"
        try await self.profiled(label) {
            try await self.measureOpenLoop(rate: rate, label: label, lead: .zero, baseline: (empty, Self.backlogTarget))
        }
    }

    /// Creates the neighbour tenant as the platform admin and returns a token of its admin.
    private func createNeighbour() async throws -> String {
        let folder = self.server.dataDirectory + "/dev"
        let platform = try String(contentsOfFile: folder + "/platform-admin.token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let request = V1.CreateTenantRequest(tenantID: Self.neighbourTenant, displayName: "Neighbour")
        _ = try await self.submitChannels[0].unary(
            .createTenant, payload: try request.serializedBytes(),
            metadata: V1.CallMetadata(authorization: "Bearer \(platform)"), deadline: .now + .seconds(30))
        return try DevelopmentSigningKey.loadOrCreate(in: folder).makeSigner().sign(
            principal: Principal(tenantID: Self.neighbourTenant, subject: "bench-neighbour", roles: [.admin]),
            issuer: DevelopmentSigningKey.issuer, audience: "gnomon", lifetime: .seconds(4 * 3_600))
    }
}
