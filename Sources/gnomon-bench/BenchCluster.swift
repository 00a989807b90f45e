import Dispatch
import Foundation
import Glibc
import GnomonCore
import GnomonStore

/// A throwaway PostgreSQL cluster for one benchmark run, kept under `/tmp/gnomon-bench-*`.
///
/// Unlike the test clusters, fsync stays on: only `synchronous_commit` is off, as a deployment
/// that accepts losing the last few hundred milliseconds of commits on a crash would run it.
struct BenchCluster {
    /// The server settings the figures were measured with, as `-c name=value` pairs.
    static let settings: [String: String] = [
        "synchronous_commit": "off",
        "shared_buffers": "256MB",
    ]

    /// The folder holding the cluster, removed by ``remove()``.
    let folder: String
    /// The settings the server runs with: ``settings`` and the caller's overrides.
    let serverSettings: [String: String]
    private let postgres: EmbeddedPostgres
    private let dataDirectory: String

    /// Creates the folder; the cluster itself is created by ``start()``.
    ///
    /// - Parameter overrides: Server settings added to or replacing ``settings``.
    static func make(overrides: [String: String]) throws -> BenchCluster {
        let folder = try Self.makeTemporaryFolder()
        var configuration = EmbeddedPostgres.Configuration(dataDirectory: folder + "/data")
        configuration.settings = Self.settings.merging(overrides) { _, override in override }
        let postgres = EmbeddedPostgres(configuration: configuration, logger: .disabled)
        return BenchCluster(
            folder: folder,
            serverSettings: configuration.settings,
            postgres: postgres,
            dataDirectory: configuration.dataDirectory
        )
    }

    /// Creates the cluster, starts its server and returns how to reach it.
    ///
    /// An interrupt from now on kills the server and deletes the folder before exiting, since
    /// `pg_ctl` servers outlive the process that started them.
    func start() async throws -> PostgresEndpoint {
        self.removeOnInterrupt()
        return try await self.postgres.start()
    }

    /// Stops the server and deletes the cluster and its folder.
    func remove() async throws {
        try await self.postgres.remove()
        try FileManager.default.removeItem(atPath: self.folder)
    }

    /// Settings as one line for the report, fsync included when it is left on.
    static func summary(of settings: [String: String]) -> String {
        let given = settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let fsync = settings["fsync"] == nil ? ["fsync=on (default)"] : []
        return (given + fsync).joined(separator: ", ")
    }

    /// Creates `/tmp/gnomon-bench-XXXXXX`, searchable by the `postgres` account a root run uses.
    private static func makeTemporaryFolder() throws -> String {
        var template = Array("/tmp/gnomon-bench-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        guard created, chmod(path, 0o755) == 0 else {
            throw BenchError("could not create a folder for the cluster in /tmp: errno \(errno)")
        }
        return path
    }

    private func removeOnInterrupt() {
        let dataDirectory = self.dataDirectory
        let folder = self.folder
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("interrupted: removing \(folder)\n".utf8))
                EmbeddedPostgres.removeAtExit(dataDirectory: dataDirectory)
                try? FileManager.default.removeItem(atPath: folder)
                exit(130)
            }
            source.resume()
            InterruptSources.keep(source)
        }
    }
}

/// Keeps the signal sources alive for the life of the process.
private enum InterruptSources {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func keep(_ source: any DispatchSourceSignal) {
        // Only the main task installs sources, once, before any other thread starts.
        self.sources.append(source)
    }
}
