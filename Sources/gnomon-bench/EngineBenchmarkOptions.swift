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
    }

    /// The parts to run, in the order of ``Phase``.
    var phases: Set<Phase> = Set(Phase.allCases)
    /// Whether this is the `--quick` smoke run, for the report.
    var isQuick = false
    /// Jobs the burst submits and then drains.
    var burstJobs = 100_000
    /// Connections that submit batches, each with ``batchesInFlight`` calls at once.
    var submitConnections = 4
    /// `SubmitJobs` calls each submitting connection keeps in flight.
    var batchesInFlight = 2
    /// Lease streams of the no-op workers, each on a connection of its own.
    var workerStreams = 8
    /// The capacity each lease stream asks for.
    var workerCapacity = 64
    /// The open-loop rates of the steady runs, in jobs per second.
    var steadyRates = [500, 1_000, 2_000, 5_000]
    /// How long each steady run submits.
    var steadyDuration: Duration = .seconds(30)
    /// Jobs the fan-out submits for one instant.
    var fanOutJobs = 10_000
    /// How far ahead of the submission the fan-out's instant lies.
    var fanOutLead: Duration = .seconds(3)
    /// Jobs in each backlog: not yet due in the workers' queue, then runnable in another tenant's.
    var backlogJobs = 1_000_000
    /// The `gnomond` binary to measure; the one built beside this executable when `nil`.
    var gnomondPath: String?
    /// A file the Markdown report is appended to, besides standard output.
    var outputFile: String?

    /// The open-loop rate of the backlog runs and of the empty run they are compared with.
    static let backlogRate = 1_000

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
                default: "burst,steady,fan-out,backlog",
                help: "The parts to run, comma-separated; they always run in this order."
            ),
            .value(
                "burst-jobs", valueName: "N", defaultDescription: "100000; 10000 with --quick",
                help: "Jobs submitted in batches of 1,000, then drained."),
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
                "rates", valueName: "LIST", default: "500,1000,2000,5000",
                help: "Jobs per second of the open-loop steady runs, comma-separated."),
            .value(
                "steady-seconds", valueName: "N", defaultDescription: "30; 4 with --quick",
                help: "How long each steady run and each backlog run submits."),
            .value(
                "fan-out-jobs", valueName: "N", defaultDescription: "10000; 2000 with --quick",
                help: "Jobs due at one instant, 3 s after they are submitted."),
            .value(
                "backlog", valueName: "N", defaultDescription: "1000000; 20000 with --quick",
                help: "Jobs in each backlog; 0 skips the backlog runs."),
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
        self.burstJobs = try values.integer("burst-jobs", in: 1_000...10_000_000) ?? (quick ? 10_000 : 100_000)
        self.submitConnections = try values.integer("submit-connections", in: 1...64) ?? self.submitConnections
        self.workerStreams = try values.integer("workers", in: 1...64) ?? self.workerStreams
        self.workerCapacity = try values.integer("capacity", in: 1...1_000) ?? self.workerCapacity
        self.steadyRates = try Self.rates(values.string("rates")) ?? self.steadyRates
        self.steadyDuration = .seconds(try values.integer("steady-seconds", in: 1...3_600) ?? (quick ? 4 : 30))
        self.fanOutJobs = try values.integer("fan-out-jobs", in: 1...1_000_000) ?? (quick ? 2_000 : 10_000)
        self.backlogJobs = try values.integer("backlog", in: 0...100_000_000) ?? (quick ? 20_000 : 1_000_000)
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

    private static func rates(_ text: String?) throws(UsageError) -> [Int]? {
        guard let text else {
            return nil
        }
        let rates = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !rates.isEmpty, rates.allSatisfy({ $0.map { (1...100_000).contains($0) } ?? false }) else {
            throw UsageError(
                code: .invalidValue,
                message: "option '--rates' expects jobs per second from 1 to 100000, comma-separated, such as "
                    + "500,1000; got '\(text)'",
                option: "--rates")
        }
        return rates.compactMap { $0 }.sorted()
    }
}
