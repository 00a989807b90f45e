import Foundation
import GnomonCore

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Writes a progress line, stamped with the time of day, to standard error.
func printProgress(_ message: String) {
    let formatter = DateFormatter()
    formatter.dateFormat = "HH:mm:ss"
    printError("[\(formatter.string(from: Date()))] \(message)")
}

let topLevel = OptionParser(
    commandName: "gnomon-bench",
    usage: "gnomon-bench <benchmark> [options]",
    purpose: "Runs Gnomon's benchmarks and prints their figures as Markdown.",
    options: [],
    examples: [
        .init("Measure the PostgreSQL store.", command: "gnomon-bench store"),
        .init("Measure the RPC transport.", command: "gnomon-bench rpc"),
        .init("Measure the job engine end to end.", command: "gnomon-bench engine"),
    ],
    stopsAtFirstPositional: true
)
let benchmarkList = """

    Benchmarks:
      store    the PostgreSQL job store against the raw-SQL ceiling (see gnomon-bench store --help)
      rpc      the RPC transport over loopback TLS, beside PostgreSQL (see gnomon-bench rpc --help)
      engine   the job engine end to end: submit, drain, latency, fan-out, backlogs (gnomon-bench engine --help)
    """

let arguments = Array(CommandLine.arguments.dropFirst())
let values: OptionParser.Values
do {
    switch try topLevel.parse(arguments, environment: [:]) {
    case .helpRequested:
        print(topLevel.helpText() + benchmarkList)
        exit(0)

    case .versionRequested:
        print("gnomon-bench \(GnomonVersion.current)")
        exit(0)

    case .parsed(let parsed):
        values = parsed
    }
} catch {
    printError("gnomon-bench: \(error.message)")
    exit(2)
}

switch values.positionals.first {
case "store":
    exit(await StoreCommand.run(arguments: Array(values.positionals.dropFirst())))

case "rpc":
    exit(await RPCCommand.run(arguments: Array(values.positionals.dropFirst())))

case "engine":
    exit(await EngineCommand.run(arguments: Array(values.positionals.dropFirst())))

case RPCServerCommand.name:
    exit(await RPCServerCommand.run(arguments: Array(values.positionals.dropFirst())))

case let other:
    let given = other.map { "unknown benchmark '\($0)'" } ?? "no benchmark named"
    printError("gnomon-bench: \(given); try 'gnomon-bench --help'")
    exit(2)
}
