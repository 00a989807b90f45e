import GnomonCore

/// What `gnomon-bench rpc` was asked to do.
struct RPCBenchmarkOptions: Sendable {
    /// How many timed unary calls the latency figure and its PostgreSQL reference each get.
    var latencyCalls = 20_000
    /// How long each throughput run counts calls, after its warm-up.
    var duration: Duration = .seconds(5)
    /// How long each throughput run calls before it starts counting: a fifth of ``duration``.
    var warmUp: Duration {
        self.duration / 5
    }
    /// How many idle connections the memory figure opens.
    var idleConnections = 1_000
    /// A file the Markdown report is appended to, besides standard output.
    var outputFile: String?

    /// The parser of the `rpc` subcommand's options.
    static let parser = OptionParser(
        commandName: "gnomon-bench rpc",
        purpose: "Measures the RPC transport over loopback TLS against a server in a separate process, "
            + "beside PostgreSQL's SELECT 1 round trip over TLS. Progress goes to standard error, the "
            + "Markdown report to standard output.",
        options: [
            .value(
                "latency-calls",
                valueName: "N",
                defaultDescription: "20000; 2000 with --quick",
                help: "Timed sequential calls for the latency figures, RPC and PostgreSQL alike."
            ),
            .value(
                "duration",
                valueName: "SECONDS",
                defaultDescription: "5; 1 with --quick",
                help: "Counted length of each throughput run, after a warm-up of a fifth of it."
            ),
            .value(
                "idle-connections",
                valueName: "N",
                default: "1000",
                help: "Idle connections opened to measure the server's memory per connection."
            ),
            .flag("quick", help: "A short smoke run: 2,000 latency calls and 1-second throughput runs."),
            .value("output", short: "o", valueName: "FILE", help: "Also append the report to this file."),
        ],
        examples: [
            .init("A smoke run.", command: "gnomon-bench rpc --quick"),
            .init("The full run, its report kept.", command: "gnomon-bench rpc --output rpc-run.md"),
        ],
        includesVersionOption: false
    )

    /// Reads the options from parsed values; explicit values win over `--quick`.
    ///
    /// - Throws: ``UsageError`` for a value out of range or positional arguments.
    init(values: OptionParser.Values) throws(UsageError) {
        if let extra = values.positionals.first {
            throw UsageError(code: .unexpectedArgument, message: "unexpected argument '\(extra)'")
        }
        let quick = values.isSet("quick")
        self.latencyCalls = try values.integer("latency-calls", in: 100...10_000_000) ?? (quick ? 2_000 : 20_000)
        self.duration = .seconds(try values.integer("duration", in: 1...3_600) ?? (quick ? 1 : 5))
        self.idleConnections = try values.integer("idle-connections", in: 1...100_000) ?? self.idleConnections
        self.outputFile = try values.nonEmptyString("output")
    }
}
