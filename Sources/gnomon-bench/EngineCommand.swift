import Foundation
import GnomonCore
import GnomonStore

/// The `engine` subcommand: parses its options, runs ``EngineBenchmark`` and prints the report.
enum EngineCommand {
    /// Runs the subcommand and returns the process's exit status.
    ///
    /// - Parameter arguments: The arguments after `engine`.
    static func run(arguments: [String]) async -> Int32 {
        let options: EngineBenchmarkOptions
        do {
            switch try EngineBenchmarkOptions.parser.parse(arguments, environment: [:]) {
            case .helpRequested, .versionRequested:
                print(EngineBenchmarkOptions.parser.helpText())
                return 0

            case .parsed(let values):
                options = try EngineBenchmarkOptions(values: values)
            }
        } catch {
            printError("gnomon-bench engine: \(error.message)")
            return 2
        }
        do {
            try BenchmarkReport.publish(try await self.measure(options), to: options.outputFile)
            return 0
        } catch {
            printError("gnomon-bench engine: \(error)")
            return 1
        }
    }

    /// Starts PostgreSQL and `gnomond`, runs the benchmark, then stops both.
    private static func measure(_ options: EngineBenchmarkOptions) async throws -> String {
        OpenFileLimit.raiseToHardLimit()
        let executable = try options.gnomondPath ?? Self.builtServer()
        let profiling = options.databaseStats ? DatabaseProfile.settings : [:]
        let cluster = try BenchCluster.make(
            overrides: profiling.merging(options.serverSettings) { _, override in override })
        printError("starting PostgreSQL in \(cluster.folder)")
        do {
            let markdown = try await self.measure(options, cluster: cluster, executable: executable)
            try await cluster.remove()
            return markdown
        } catch {
            try? await cluster.remove()
            throw error
        }
    }

    private static func measure(
        _ options: EngineBenchmarkOptions,
        cluster: BenchCluster,
        executable: String
    ) async throws -> String {
        let endpoint = try await cluster.start()
        printError("starting \(executable)")
        let server = try await EngineServerProcess.start(
            executable: executable,
            databaseURL: endpoint.socketConnectionString,
            dataDirectory: cluster.folder + "/gnomond"
        )
        printError("gnomond running as process \(server.pid) on 127.0.0.1:\(server.port)")
        var profile: DatabaseProfile?
        do {
            if options.databaseStats {
                profile = try await DatabaseProfile.start(connectionString: endpoint.socketConnectionString)
            }
            let benchmark = try EngineBenchmark(
                options: options,
                server: server,
                postmasterPID: try CPUTimes.postmasterPID(dataDirectory: cluster.dataDirectory),
                serverSettings: cluster.serverSettings,
                databaseURL: endpoint.socketConnectionString,
                profile: profile
            )
            let markdown = try await benchmark.run()
            profile?.stop()
            await server.stop()
            return markdown
        } catch {
            profile?.stop()
            await server.stop()
            throw error
        }
    }

    /// The `gnomond` built beside this executable.
    private static func builtServer() throws -> String {
        let own = try RPCServerProcess.ownExecutable()
        return URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent("gnomond").path
    }
}
