import Foundation
import GnomonClient
import GnomonCore
import GnomonProtocol

/// Exit statuses, as documented in `gnomon --help`.
enum ExitStatus: Int32 {
    case success = 0
    case serverFailure = 1
    case usage = 2
    case cannotConnect = 3
    case notAllowed = 4
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

let parser = OptionParser(
    commandName: "gnomon",
    usage: "gnomon [options] <command>",
    purpose: "gnomon — the Gnomon command line. Commands: status, token mint",
    options: [
        .value(
            "server",
            valueName: "HOST:PORT",
            default: "127.0.0.1:7443",
            environment: "GNOMON_ADDR",
            help: "The gnomond to talk to."
        ),
        .value(
            "ca",
            valueName: "PEM",
            defaultDescription: "the system's certificate authorities",
            environment: "GNOMON_CA",
            help: "Certificate authorities to verify the server with, such as .gnomon/tls/ca.pem of gnomond --dev."
        ),
        .value(
            "token-file",
            valueName: "FILE",
            defaultDescription: "the environment variable GNOMON_TOKEN",
            environment: "GNOMON_TOKEN_FILE",
            help: "A file holding the bearer token (a JWT) to call with, such as .gnomon/dev/admin.token of "
                + "gnomond --dev. Tokens are not taken on the command line, where other users could see them."
        ),
        .value(
            "output",
            short: "o",
            valueName: "FORMAT",
            default: "text",
            environment: "GNOMON_OUTPUT",
            help: "text for people, json for scripts."
        ),
    ],
    examples: [
        OptionParser.Example(
            "Ask a development server how it is:",
            command: "gnomon --ca .gnomon/tls/ca.pem status"
        )
    ],
    stopsAtFirstPositional: true
)

let values: OptionParser.Values
do {
    switch try parser.parse(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
    {
    case .helpRequested:
        print(parser.helpText())
        print("\nExit status: 0 success, 1 failure reported by the server, 2 usage error, 3 cannot connect,")
        print("4 authentication or permission.")
        exit(ExitStatus.success.rawValue)

    case .versionRequested:
        print("gnomon \(GnomonClient.version)")
        exit(ExitStatus.success.rawValue)

    case .parsed(let parsed):
        values = parsed
    }
} catch {
    printError("gnomon: \(error.message)")
    exit(ExitStatus.usage.rawValue)
}

guard let command = values.positionals.first else {
    printError("gnomon: a command is needed, such as 'gnomon status'; run 'gnomon --help' for the list")
    exit(ExitStatus.usage.rawValue)
}
if command == "token" {
    guard values.positionals.count >= 2, values.positionals[1] == "mint" else {
        printError("gnomon: 'gnomon token' needs a subcommand: mint; see 'gnomon token mint --help'")
        exit(ExitStatus.usage.rawValue)
    }
    exit(TokenMint.run(Array(values.positionals.dropFirst(2))))
}
guard command == "status", values.positionals.count == 1 else {
    printError(
        "gnomon: unknown command '\(values.positionals.joined(separator: " "))'; the commands are: status, token mint")
    exit(ExitStatus.usage.rawValue)
}

/// The token from `--token-file`, or else from `GNOMON_TOKEN`.
func bearerToken(_ values: OptionParser.Values) throws(UsageError) -> String? {
    guard let path = try values.nonEmptyString("token-file") else {
        let token = ProcessInfo.processInfo.environment["GNOMON_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines)
        return token?.isEmpty == false ? token : nil
    }
    guard let data = FileManager.default.contents(atPath: path),
        let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
        !text.isEmpty
    else {
        throw UsageError(
            code: .invalidValue,
            message: "\(values.origin(of: "token-file")) names '\(path)', which cannot be read or holds no token",
            option: "--token-file")
    }
    return text
}

let configuration: GnomonClient.Configuration
let asJSON: Bool
do {
    let address = try values.hostAndPort("server") ?? HostAndPort(host: "127.0.0.1", port: 7443)
    configuration = GnomonClient.Configuration(
        address: address,
        caFile: values.string("ca"),
        token: try bearerToken(values)
    )
    asJSON = try values.choice("output", from: ["text", "json"]) == "json"
} catch {
    printError("gnomon: \(error.message)")
    exit(ExitStatus.usage.rawValue)
}

do {
    let client = try GnomonClient(configuration: configuration)
    let status = try await client.serverStatus()
    await client.shutdown()
    print(StatusReport(status).render(json: asJSON))
    exit(ExitStatus.success.rawValue)
} catch let error as GnomonError {
    printError("gnomon: \(error)")
    switch error.code {
    case .unavailable, .deadlineExceeded: exit(ExitStatus.cannotConnect.rawValue)
    case .unauthenticated, .permissionDenied: exit(ExitStatus.notAllowed.rawValue)
    default: exit(ExitStatus.serverFailure.rawValue)
    }
} catch {
    printError("gnomon: \(error)")
    exit(ExitStatus.serverFailure.rawValue)
}
