import GnomonCore

/// What `gnomon-bench store` was asked to do.
struct StoreBenchmarkOptions: Sendable {
    /// How long the steady-state run lasts, in whole minutes.
    var minutes = 5
    /// A file the Markdown report is appended to, besides standard output.
    var outputFile: String?
    /// How long each driver claims and completes at each batch size.
    var claimSeconds = 20
    /// How many jobs the bulk insert writes, and how many stay pending while claiming.
    var bulkJobs = 200_000
    /// The largest pending count: the due-job query's last size and the steady state's.
    var pendingRows = 1_000_000
    /// How many timed runs of the due-job query each size gets.
    var dueQueryRuns = 500
    /// Server settings added to or overriding ``BenchCluster/settings``, for experiments.
    var serverSettings: [String: String] = [:]

    /// The parser of the `store` subcommand's options.
    static let parser = OptionParser(
        commandName: "gnomon-bench store",
        purpose: "Measures the PostgreSQL job store against an embedded server, and the same SQL "
            + "driven by a bare libpq loop. Progress goes to standard error, the Markdown report to "
            + "standard output.",
        options: [
            .value("minutes", valueName: "N", default: "5", help: "Length of the steady-state run."),
            .value("output", short: "o", valueName: "FILE", help: "Also append the report to this file."),
            .value(
                "claim-seconds",
                valueName: "N",
                default: "20",
                help: "Seconds each driver claims and completes at each batch size."
            ),
            .value("bulk-jobs", valueName: "N", default: "200000", help: "Jobs written by the bulk insert."),
            .value(
                "pending",
                valueName: "N",
                default: "1000000",
                help: "Pending rows for the last due-job query size and the steady state."
            ),
            .value(
                "set",
                valueName: "NAME=VALUE",
                help: "A PostgreSQL server setting to add or override; may be repeated. The report lists it."
            ),
        ],
        examples: [
            .init("A quick trial.", command: "gnomon-bench store --minutes 1 --claim-seconds 4 --pending 200000"),
            .init("The full run, its report kept.", command: "gnomon-bench store --output store-run.md"),
        ],
        includesVersionOption: false
    )

    /// Reads the options from parsed values.
    ///
    /// - Throws: ``UsageError`` for a value out of range or positional arguments.
    init(values: OptionParser.Values) throws(UsageError) {
        if let extra = values.positionals.first {
            throw UsageError(code: .unexpectedArgument, message: "unexpected argument '\(extra)'")
        }
        self.minutes = try values.integer("minutes", in: 1...120) ?? self.minutes
        self.outputFile = try values.nonEmptyString("output")
        self.claimSeconds = try values.integer("claim-seconds", in: 1...600) ?? self.claimSeconds
        self.bulkJobs = try values.integer("bulk-jobs", in: 1_000...10_000_000) ?? self.bulkJobs
        self.pendingRows = try values.integer("pending", in: 10_000...10_000_000) ?? self.pendingRows
        self.serverSettings = try PostgresSettingsOption.parse(values.strings("set"))
    }
}
