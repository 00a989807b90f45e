import Foundation
import GnomonCore
import GnomonStore

/// The `store` subcommand: parses its options, runs ``StoreBenchmark`` and prints the report.
enum StoreCommand {
    /// Runs the subcommand and returns the process's exit status.
    ///
    /// - Parameter arguments: The arguments after `store`.
    static func run(arguments: [String]) async -> Int32 {
        let options: StoreBenchmarkOptions
        do {
            switch try StoreBenchmarkOptions.parser.parse(arguments, environment: [:]) {
            case .helpRequested, .versionRequested:
                print(StoreBenchmarkOptions.parser.helpText())
                return 0

            case .parsed(let values):
                options = try StoreBenchmarkOptions(values: values)
            }
        } catch {
            printError("gnomon-bench store: \(error.message)")
            return 2
        }
        do {
            try BenchmarkReport.publish(try await self.measure(options), to: options.outputFile)
            return 0
        } catch {
            printError("gnomon-bench store: \(error)")
            return 1
        }
    }

    /// Starts a cluster, runs the benchmark on a thread of its own, and removes the cluster.
    private static func measure(_ options: StoreBenchmarkOptions) async throws -> String {
        let cluster = try BenchCluster.make(overrides: options.serverSettings)
        printError("starting PostgreSQL in \(cluster.folder)")
        let markdown: String
        do {
            let connectionString = try await cluster.start().socketConnectionString
            let settings = cluster.serverSettings
            markdown = try await BlockingThread.run(name: "gnomon-bench store") {
                let benchmark = try StoreBenchmark(options: options, connectionString: connectionString)
                return try benchmark.run(serverSettings: settings)
            }
        } catch {
            try? await cluster.remove()
            throw error
        }
        try await cluster.remove()
        return markdown
    }
}
