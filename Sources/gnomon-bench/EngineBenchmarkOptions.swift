import Foundation
import GnomonCore

/// What `gnomon-bench engine` was asked to do.
struct EngineBenchmarkOptions: Sendable {
    /// One part of the run, named as `--phases` names it.
    enum Phase: String, Sendable, CaseIterable {
        case burst
        case steady
        case fanOut = "fan-out"
        case backlog
        case neighbour
        case schedules
        case schedulesSpread = "schedules-spread"
    }

    /// The parts to run, in the order of ``Phase``.
    var phases: Set<Phase> = Set(Phase.allCases)
    /// Whether this is the `--quick` smoke run, for the report.
    var isQuick = false
    /// Jobs the burst submits and then drains.
    var burstJobs = 100_000
    /// The longest the burst's drain is timed; jobs left then stay in the queue.
    var drainLimit: Duration = .seconds(120)
    /// Connections that submit batches, each with ``batchesInFlight`` calls at once.
    var submitConnections = 4
    /// `SubmitJobs` calls each submitting connection keeps in flight.
    var batchesInFlight = 2
    /// Lease streams of the no-op workers, each on a connection of its own.
    var workerStreams = 8
    /// The capacity each lease stream asks for.
    var workerCapacity = 64
    /// The open-loop rates of the steady runs with immediate jobs, in jobs per second.
    var steadyRates = [100, 200, 500, 1_000, 2_000, 5_000]
    /// The open-loop rates of the steady runs whose jobs are due ``scheduledLead`` after submission.
    var scheduledRates = [2_000]
    /// How long after its submission a scheduled run's job is due.
    var scheduledLead: Duration = .milliseconds(100)
    /// How long each steady run submits.
    var steadyDuration: Duration = .seconds(20)
    /// Jobs the fan-out submits for one instant.
    var fanOutJobs = 10_000
    /// How far ahead of the submission the fan-out's instant lies.
    var fanOutLead: Duration = .seconds(3)
    /// Jobs in the backlog, due hours ahead in the queue of the backlog run.
    var backlogJobs = 1_000_000
    /// The open-loop rate of the backlog run and of the empty run it is compared with.
    var backlogRate = 1_000
    /// Runnable jobs of another tenant in the `neighbour` phase.
    var neighbourBacklogJobs = 1_000_000
    /// Schedules that fire at one second in the `schedules` phase.
    var sameSecondSchedules = 10_000
    /// Schedules of the `schedules-spread` phase, each firing every 100 s, spread evenly.
    var spreadSchedules = 100_000
    /// How long the `schedules-spread` phase measures.
    var spreadDuration: Duration = .seconds(60)
    /// Whether PostgreSQL's statements and waits are recorded per phase.
    var databaseStats = true
    /// PostgreSQL settings added to or replacing the benchmark's own.
    var serverSettings: [String: String] = [:]
    /// The `gnomond` binary to measure; the one built beside this executable when `nil`.
    var gnomondPath: String?
    /// A file the Markdown report is appended to, besides standard output.
    var outputFile: String?

    /// The parser of the `engine` subcommand's options.
    static let parser = OptionParser(
        commandName: "gnomon-bench engine",
        purpose: "Measures the job engine end to end: a real gnomond in a separate process on an embedded "
            + "PostgreSQL, fed by producers and drained by no-op workers over loopback TLS. Progress goes "
            + "to standard error, the Markdown report to standard output.",
        options: [
            .value(
                "phases",
                valueName: "LIST",
                default: "burst,steady,fan-out,backlog,neighbour,schedules,schedules-spread",
                help: "The parts to run, comma-separated; they always run in this order."
            ),
            .value(
                "burst-jobs", valueName: "N", defaultDescription: "100000; 3000 with --quick",
                help: "Jobs submitted in batches of 1,000, then drained."),
            .value(
                "drain-seconds", valueName: "N", defaultDescription: "120; 30 with --quick",
                help: "The longest the burst's drain is timed; the rate is over the jobs completed by then."),
            .value(
                "submit-connections", valueName: "N", default: "4",
                help: "Connections submitting batches, each with 2 calls in flight."),
            .value(
                "workers", valueName: "N", default: "8",
                help: "Lease streams of the no-op workers, each on a connection of its own."),
            .value(
                "capacity", valueName: "N", default: "64",
                help: "Capacity of each lease stream; above 99 its completions queue in the client."),
            .value(
                "rates", valueName: "LIST", defaultDescription: "100,200,500,1000,2000,5000; 200,1000 with --quick",
                help: "Jobs per second of the open-loop steady runs of immediate jobs, comma-separated."),
            .value(
                "scheduled-rates", valueName: "LIST", defaultDescription: "2000; 200 with --quick",
                help: "Jobs per second of the steady runs whose jobs are due --lead-ms after submission; "
                    + "0 runs none."),
            .value(
                "lead-ms", valueName: "N", default: "100",
                help: "How long after submission a scheduled run's jobs are due, in milliseconds."),
            .value(
                "steady-seconds", valueName: "N", defaultDescription: "20; 2 with --quick",
                help: "How long each steady run and the backlog run submit."),
            .value(
                "fan-out-jobs", valueName: "N", defaultDescription: "10000; 1000 with --quick",
                help: "Jobs due at one instant, 3 s after they are submitted."),
            .value(
                "neighbour-backlog", valueName: "N", defaultDescription: "1000000; 10000 with --quick",
                help: "Runnable jobs of another tenant, with no worker, beside the neighbour phase's run."),
            .value(
                "schedules", valueName: "N", defaultDescription: "10000; 1000 with --quick",
                help: "Schedules that fire at the same second, 15 s after they are made."),
            .value(
                "spread-schedules", valueName: "N", defaultDescription: "100000; 10000 with --quick",
                help: "Schedules firing every 100 s at evenly spread times, measured for 60 s (10 s with --quick)."),
            .value(
                "backlog", valueName: "N", defaultDescription: "1000000; 10000 with --quick",
                help: "Jobs due in 6 hours in the backlog run's queue; 0 skips the backlog run."),
            .value(
                "backlog-rate", valueName: "N", default: "1000",
                help: "Jobs per second of the backlog run, and of the empty run it is compared with."),
            .value(
                "set", valueName: "NAME=VALUE",
                help: "A PostgreSQL server setting to add or override; may be repeated. The report lists it."),
            .flag(
                "no-database-stats",
                help: "Do not load pg_stat_statements nor sample pg_stat_activity (both on by default)."),
            .value(
                "gnomond", valueName: "PATH", defaultDescription: "the gnomond beside this executable",
                help: "The server binary to measure."),
            .flag("quick", help: "A smoke run of under a minute with every size cut down."),
            .value("output", short: "o", valueName: "FILE", help: "Also append the report to this file."),
        ],
        examples: [
            .init("A smoke run.", command: "gnomon-bench engine --quick"),
            .init("The full run, its report kept.", command: "gnomon-bench engine --output engine-run.md"),
            .init(
                "The steady runs alone, 2 minutes each.",
                command: "gnomon-bench engine --phases steady --steady-seconds 120"),
            .init(
                "Measure with a PostgreSQL setting changed.",
                command: "gnomon-bench engine --phases burst --set autovacuum_naptime=5s"),
        ],
        includesVersionOption: false
    )

    /// Reads the options from parsed values; explicit values win over `--quick`.
    ///
    /// - Throws: ``UsageError`` for a value out of range, an unknown phase or positional arguments.
    init(values: OptionParser.Values) throws(UsageError) {
        if let extra = values.positionals.first {
            throw UsageError(code: .unexpectedArgument, message: "unexpected argument '\(extra)'")
        }
        let quick = values.isSet("quick")
        self.isQuick = quick
        self.phases = try Self.phases(values.string("phases"))
        self.burstJobs = try values.integer("burst-jobs", in: 1_000...10_000_000) ?? (quick ? 3_000 : 100_000)
        self.drainLimit = .seconds(try values.integer("drain-seconds", in: 1...7_200) ?? (quick ? 30 : 120))
        self.submitConnections = try values.integer("submit-connections", in: 1...64) ?? self.submitConnections
        self.workerStreams = try values.integer("workers", in: 1...64) ?? self.workerStreams
        self.workerCapacity = try values.integer("capacity", in: 1...1_000) ?? self.workerCapacity
        self.steadyRates =
            try Self.rates(values.string("rates"), option: "rates") ?? (quick ? [200, 1_000] : self.steadyRates)
        self.scheduledRates =
            try Self.rates(values.string("scheduled-rates"), option: "scheduled-rates", allowingNone: true)
            ?? (quick ? [200] : self.scheduledRates)
        self.scheduledLead = .milliseconds(try values.integer("lead-ms", in: 1...60_000) ?? 100)
        self.steadyDuration = .seconds(try values.integer("steady-seconds", in: 1...3_600) ?? (quick ? 2 : 20))
        self.fanOutJobs = try values.integer("fan-out-jobs", in: 1...1_000_000) ?? (quick ? 1_000 : 10_000)
        self.backlogJobs = try values.integer("backlog", in: 0...100_000_000) ?? (quick ? 10_000 : 1_000_000)
        self.backlogRate = try values.integer("backlog-rate", in: 1...100_000) ?? self.backlogRate
        self.neighbourBacklogJobs =
            try values.integer("neighbour-backlog", in: 1...100_000_000) ?? (quick ? 10_000 : 1_000_000)
        self.sameSecondSchedules = try values.integer("schedules", in: 1...1_000_000) ?? (quick ? 1_000 : 10_000)
        self.spreadSchedules =
            try values.integer("spread-schedules", in: 100...10_000_000) ?? (quick ? 10_000 : 100_000)
        self.spreadDuration = .seconds(quick ? 10 : 60)
        self.databaseStats = !values.isSet("no-database-stats")
        self.serverSettings = try PostgresSettingsOption.parse(values.strings("set"))
        self.gnomondPath = try values.nonEmptyString("gnomond")
        self.outputFile = try values.nonEmptyString("output")
    }

    /// Whether `phase` runs: it was asked for, and its size is not zero.
    func runs(_ phase: Phase) -> Bool {
        self.phases.contains(phase) && (phase != .backlog || self.backlogJobs > 0)
    }

    private static func phases(_ text: String?) throws(UsageError) -> Set<Phase> {
        guard let text else {
            return Set(Phase.allCases)
        }
        var chosen: Set<Phase> = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let phase = Phase(rawValue: name) else {
                let known = Phase.allCases.map(\.rawValue).joined(separator: ", ")
                throw UsageError(
                    code: .invalidValue, message: "option '--phases' names '\(name)'; the phases are \(known)",
                    option: "--phases")
            }
            chosen.insert(phase)
        }
        return chosen
    }

    private static func rates(_ text: String?, option: String, allowingNone: Bool = false) throws(UsageError)
        -> [Int]?
    {
        guard let text else {
            return nil
        }
        if allowingNone && text.trimmingCharacters(in: .whitespaces) == "0" {
            return []
        }
        let rates = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !rates.isEmpty, rates.allSatisfy({ $0.map { (1...100_000).contains($0) } ?? false }) else {
            throw UsageError(
                code: .invalidValue,
                message: "option '--\(option)' expects jobs per second from 1 to 100000, comma-separated, such as "
                    + "500,1000; got '\(text)'",
                option: "--\(option)")
        }
        return rates.compactMap { $0 }.sorted()
    }
}
