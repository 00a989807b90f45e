import Dispatch
import Foundation
import GnomonCore
import GnomonServer

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

let command: ServerCommand
do {
    command = try ServerConfiguration.parse(
        arguments: Array(CommandLine.arguments.dropFirst()),
        environment: ProcessInfo.processInfo.environment
    )
} catch {
    printError("gnomond: \(error.message)")
    exit(2)
}

let configuration: ServerConfiguration
switch command {
case .help(let text):
    print(text)
    exit(0)

case .version(let text):
    print(text)
    exit(0)

case .run(let parsed):
    configuration = parsed
}

if let url = configuration.databaseURL {
    do {
        try DatabaseURLCheck.validate(url)
    } catch {
        printError("gnomond: option '--database-url' \(error)")
        exit(2)
    }
}

let format: StandardErrorLogSink.Format
switch configuration.logFormat {
case .auto: format = StandardErrorLogSink.automaticFormat()
case .json: format = .json
case .text: format = .text
}
let logger = Logger(source: "gnomond", level: configuration.logLevel, sink: StandardErrorLogSink(format: format))
let signals = ShutdownSignals.install()
let node = ServerNode(
    configuration: configuration,
    workingDirectory: FileManager.default.currentDirectoryPath,
    logger: logger
)

do {
    _ = try await node.start()
    logger.info("gnomond ready")
    let signal = await signals.next()
    logger.info("shutting down", ["signal": signal])
    try await node.stop()
    exit(0)
} catch {
    logger.error("gnomond failed", [LogKey.error: "\(error)"])
    try? await node.stop()
    exit(1)
}
