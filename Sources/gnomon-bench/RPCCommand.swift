import Foundation
import GnomonCore
import GnomonNetwork
import GnomonStore

/// The `rpc` subcommand: parses its options, runs ``RPCBenchmark`` and prints the report.
enum RPCCommand {
    /// Runs the subcommand and returns the process's exit status.
    ///
    /// - Parameter arguments: The arguments after `rpc`.
    static func run(arguments: [String]) async -> Int32 {
        let options: RPCBenchmarkOptions
        do {
            switch try RPCBenchmarkOptions.parser.parse(arguments, environment: [:]) {
            case .helpRequested, .versionRequested:
                print(RPCBenchmarkOptions.parser.helpText())
                return 0

            case .parsed(let values):
                options = try RPCBenchmarkOptions(values: values)
            }
        } catch {
            printError("gnomon-bench rpc: \(error.message)")
            return 2
        }
        do {
            try BenchmarkReport.publish(try await self.measure(options), to: options.outputFile)
            return 0
        } catch {
            printError("gnomon-bench rpc: \(error)")
            return 1
        }
    }

    /// Starts PostgreSQL and the RPC server, runs the benchmark, then stops both.
    private static func measure(_ options: RPCBenchmarkOptions) async throws -> String {
        let descriptors = OpenFileLimit.raiseToHardLimit()
        guard descriptors > options.idleConnections + 256 else {
            throw BenchError(
                "\(options.idleConnections) idle connections need more than the \(descriptors) open files "
                    + "this process may have; raise the hard limit (ulimit -Hn) or use --idle-connections"
            )
        }
        let cluster = try BenchCluster.make(overrides: [:], tls: true)
        printError("starting PostgreSQL in \(cluster.folder)")
        do {
            let markdown = try await self.measure(options, cluster: cluster)
            try await cluster.remove()
            return markdown
        } catch {
            try? await cluster.remove()
            throw error
        }
    }

    private static func measure(_ options: RPCBenchmarkOptions, cluster: BenchCluster) async throws -> String {
        let endpoint = try await cluster.start()
        guard let connectionString = endpoint.tcpConnectionString, let files = cluster.tlsFiles else {
            throw BenchError("the benchmark's PostgreSQL does not listen on TCP with TLS")
        }
        printError("starting the RPC server")
        let server = try await RPCServerProcess.start(tls: files)
        printError("RPC server running as process \(server.pid) on 127.0.0.1:\(server.port)")
        do {
            let benchmark = try RPCBenchmark(
                options: options,
                server: server,
                postgresConnectionString: connectionString,
                caFile: files.caFile
            )
            let markdown = try await benchmark.run()
            await server.stop()
            return markdown
        } catch {
            await server.stop()
            throw error
        }
    }
}
