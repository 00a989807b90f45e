import Dispatch
import Foundation
import Glibc
import GnomonCore
import GnomonNetwork
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
    /// The development CA, certificate and key that the server serves when made with `tls`.
    let tlsFiles: CertificateFiles?
    private let postgres: EmbeddedPostgres
    /// The cluster's data folder, holding `postmaster.pid` while the server runs.
    let dataDirectory: String

    /// Creates the folder; the cluster itself is created by ``start()``.
    ///
    /// - Parameters:
    ///   - overrides: Server settings added to or replacing ``settings``.
    ///   - tls: Whether the server also listens on a 127.0.0.1 port that accepts TLS, with the
    ///     development certificate of ``tlsFiles``.
    static func make(overrides: [String: String], tls: Bool = false) throws -> BenchCluster {
        let folder = try Self.makeTemporaryFolder()
        var configuration = EmbeddedPostgres.Configuration(dataDirectory: folder + "/data")
        configuration.settings = Self.settings.merging(overrides) { _, override in override }
        let tlsFiles: CertificateFiles?
        do {
            tlsFiles = tls ? try Self.makeCertificate(in: folder + "/tls", for: configuration.unprivilegedUser) : nil
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
        if let tlsFiles {
            configuration.tcpPort = 0
            configuration.settings["ssl"] = "on"
            configuration.settings["ssl_cert_file"] = tlsFiles.certificateFile
            configuration.settings["ssl_key_file"] = tlsFiles.keyFile
        }
        let postgres = EmbeddedPostgres(configuration: configuration, logger: .disabled)
        return BenchCluster(
            folder: folder,
            serverSettings: configuration.settings,
            tlsFiles: tlsFiles,
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

    /// Makes a development certificate that the server's account owns, as PostgreSQL requires.
    ///
    /// PostgreSQL refuses a key that is not its own (or root's) or that others may read, and a
    /// root launcher runs it as `account`, so the folder and files are handed to that account.
    private static func makeCertificate(in folder: String, for account: String) throws -> CertificateFiles {
        let files = try CertificateFiles.ensureDevelopment(in: folder)
        guard geteuid() == 0 else {
            return files
        }
        guard let entry = getpwnam(account) else {
            throw BenchError("running as root, but there is no '\(account)' account for PostgreSQL to run as")
        }
        for path in [folder, files.caFile, files.certificateFile, files.keyFile] {
            guard chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
                throw BenchError("could not give \(path) to the '\(account)' account: errno \(errno)")
            }
        }
        return files
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
                // Not exit(): its atexit handlers free OpenSSL's locks while event loop threads
                // may be in a TLS handshake, which crashes them.
                _exit(130)
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
