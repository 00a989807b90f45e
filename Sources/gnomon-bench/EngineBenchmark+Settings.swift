import Foundation
import GnomonNetwork

extension EngineBenchmark {
    /// Adds the section that says what ran, how, and how loaded the machine was.
    func describeSettings(loadBefore: Double, loadAfter: Double) {
        let records = self.server.logRecords
        let version = records.first { $0["message"] == "gnomond starting" }?["version"] ?? "unknown"
        let database = records.first { $0["message"] == "database ready" }
        let threads = EventLoopGroup.defaultThreadCount
        let steady = Int(self.options.steadyDuration.seconds)
        let phases = EngineBenchmarkOptions.Phase.allCases.filter { self.options.runs($0) }.map(\.rawValue)
        self.report.addSection(
            "Settings",
            """
            \(self.options.isQuick ? "A `--quick` smoke run: its sizes are cut down and its figures are rough. " : "")\
            Phases run: \(phases.joined(separator: ", ")). The server is `gnomond --dev` \(version), a child \
            process listening on 127.0.0.1 with its development certificate (TLS 1.3), on PostgreSQL \
            \(database?["server_version"] ?? "?") (schema version \(database?["schema_version"] ?? "?")), embedded \
            and started by the benchmark, reached over its unix socket; \
            \(BenchCluster.summary(of: self.serverSettings)). The server's own settings are its defaults: a pool of \
            8 database connections, \(threads) event loop threads, 16 shards, the `default` tenant's quotas at 0 \
            (no limit). Every figure includes the server, PostgreSQL and this client sharing the machine's \
            \(ProcessInfo.processInfo.activeProcessorCount) cores; CPU is each party's user and system time over \
            the phase, in cores.

            Producers are this process, as the `default` tenant's admin, on \(self.options.submitConnections) \
            connections: batches go out through `SubmitJobs`, 1,000 jobs a call, \(self.options.batchesInFlight) \
            calls in flight per connection; the open-loop runs make one `SubmitJob` call per job at its intended \
            time (round-robin over the connections, never waiting for earlier calls), for \(steady) s per rate. \
            Workers are \(self.options.workerStreams) `LeaseJobs` streams of capacity \(self.options.workerCapacity), \
            one connection each, with a worker token; each job counts as started when its message comes off the \
            stream, and its `CompleteAttempt` goes out at once on the same connection. Every run has a queue of \
            its own, which its workers open their streams on before its jobs are submitted (after, for the \
            burst's drain) and close once its last job is completed, so that jobs a run leaves behind never reach \
            the next.

            Latency runs from the time in the job's payload to the moment a worker receives it, on one monotonic \
            clock: the due time for scheduled and fan-out jobs (each submitted with `run_at_unix_ms`, the payload \
            holding that same millisecond), and for immediate jobs their intended submission time, which is at or \
            before their due time (an immediate job is due when its insert starts), so that figure includes the \
            `SubmitJob` call and bounds the due-to-start latency from above. Jobs never received rank as slowest \
            and a percentile that falls on them reads "lost"; a run waits \(Int(Self.steadyGrace.seconds)) s past \
            its last due time for them.

            The backlog run's queue first receives \(formatCount(self.options.backlogJobs)) jobs due \
            \(Self.backlogDelay / 3_600_000) hours ahead, through `SubmitJobs`, before its workers open their \
            streams; it is compared with the steady run of immediate jobs at \
            \(formatCount(self.options.backlogRate)) jobs/s on an empty queue.

            One-minute load average: \(String(format: "%.2f", loadBefore)) at the start, \
            \(String(format: "%.2f", loadAfter)) at the end.
            """
        )
    }

    /// Adds a section listing what went wrong on either side, when anything did.
    func describeProblems() {
        var lines: [String] = []
        let problems = self.log.problems
        if problems.failedCompletions > 0 {
            lines.append(
                "- \(formatCount(problems.failedCompletions)) `CompleteAttempt` calls failed; the first: "
                    + "\(problems.firstFailedCompletion ?? "?")")
        }
        if problems.streamFailures > 0 {
            lines.append(
                "- lease streams ended \(formatCount(problems.streamFailures)) times while the run went on; the "
                    + "first: \(problems.firstStreamFailure ?? "?")")
        }
        if problems.strays > 0 {
            lines.append("- \(formatCount(problems.strays)) leased jobs carried a payload this run did not write")
        }
        let backlogStarts = self.log.tally(0).received
        if backlogStarts > 0 {
            lines.append("- \(formatCount(backlogStarts)) jobs of the backlog were leased hours before their time")
        }
        for note in self.settleNotes {
            lines.append("- " + note)
        }
        if let status = self.server.exitStatus {
            lines.append("- gnomond exited during the run with status \(status)")
        }
        let warnings = self.server.logRecords.filter { ["warning", "error", "critical"].contains($0["level"] ?? "") }
        let grouped = Dictionary(grouping: warnings) { "\($0["level"] ?? "?"): \($0["message"] ?? "?")" }
        for (message, records) in grouped.sorted(by: { $0.value.count > $1.value.count }) {
            let cause = records.first?["error"].map { "; the first with error: \($0)" } ?? ""
            lines.append("- gnomond logged \"\(message)\" \(formatCount(records.count)) times\(cause)")
        }
        guard !lines.isEmpty else {
            return
        }
        self.report.addSection("Problems seen", lines.joined(separator: "\n"))
    }
}
