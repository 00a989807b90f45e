import Foundation
import GnomonCore
import GnomonNetwork

/// The hidden `rpc-server` subcommand: the server that `gnomon-bench rpc` measures.
///
/// `gnomon-bench rpc` runs it as a child process, so client and server do not share a heap,
/// threads or a Swift runtime. It listens on `127.0.0.1` at a port the system picks, writes
/// `listening on port N` to standard output and serves ``InMemoryStatusDispatcher`` until it
/// is killed, or until its parent exits.
enum RPCServerCommand {
    /// The subcommand's name, which `gnomon-bench --help` does not list.
    static let name = "rpc-server"
    /// The line the server writes once it listens, followed by the port.
    static let readyLine = "listening on port "

    /// The parser of the subcommand's options.
    static let parser = OptionParser(
        commandName: "gnomon-bench \(RPCServerCommand.name)",
        purpose: "Serves GetServerStatus from memory for 'gnomon-bench rpc', which starts it.",
        options: [
            .value("certificate", valueName: "FILE", help: "The server's certificate chain, PEM."),
            .value("key", valueName: "FILE", help: "The certificate's private key, PEM."),
        ],
        examples: [],
        includesVersionOption: false
    )

    /// Runs the subcommand; it returns only for help, wrong options or a server that fails.
    ///
    /// - Parameter arguments: The arguments after `rpc-server`.
    /// - Returns: The process's exit status.
    static func run(arguments: [String]) async -> Int32 {
        let certificate: String
        let key: String
        do throws(UsageError) {
            guard case .parsed(let values) = try Self.parser.parse(arguments, environment: [:]) else {
                print(Self.parser.helpText())
                return 0
            }
            guard let chain = try values.nonEmptyString("certificate"), let keyFile = try values.nonEmptyString("key")
            else {
                throw UsageError(code: .missingValue, message: "both --certificate and --key are required")
            }
            certificate = chain
            key = keyFile
        } catch {
            printError("gnomon-bench \(Self.name): \(error.message)")
            return 2
        }
        do {
            try await Self.serve(certificate: certificate, key: key)
        } catch {
            printError("gnomon-bench \(Self.name): \(error)")
        }
        return 1
    }

    /// Listens, announces the port, and serves until the parent process is gone.
    private static func serve(certificate: String, key: String) async throws {
        OpenFileLimit.raiseToHardLimit()
        let parent = getppid()
        let tls = try TLSServerContext(
            configuration: TLSConfiguration(certificateChainFile: certificate, privateKeyFile: key))
        let group = try EventLoopGroup()
        // Every benchmark connection comes from 127.0.0.1, past the default cap of one address.
        let listener = TCPListener.Configuration(maximumConnections: 200_000, maximumConnectionsPerAddress: 200_000)
        let server = try await RPCServer.start(
            configuration: RPCServer.Configuration(host: "127.0.0.1", port: 0, listener: listener),
            tls: tls,
            group: group,
            dispatcher: InMemoryStatusDispatcher(),
            logger: Logger(source: "rpc", level: .info, sink: BenchLogSink())
        )
        FileHandle.standardOutput.write(Data("\(Self.readyLine)\(server.port)\n".utf8))
        // A parent that died without killing this process leaves it to init: exit then.
        while getppid() == parent {
            try? await Task.sleep(for: .seconds(1))
        }
        printError("gnomon-bench \(Self.name): the benchmark exited; stopping")
        exit(0)
    }
}
