import Foundation
import Glibc
import GnomonCore

/// The files of one cluster that the launcher reads or writes.
struct ClusterFiles: Sendable {
    /// Every socket folder starts with this, so that only the launcher's own are ever deleted.
    static let socketDirectoryPrefix = "/tmp/gnomon-pg-"

    var dataDirectory: String

    /// Written by the server while it runs; its first line is the server's pid.
    var postmasterPID: String { self.dataDirectory + "/postmaster.pid" }
    /// Written by `initdb`; its presence means the cluster exists.
    var version: String { self.dataDirectory + "/PG_VERSION" }
    /// The superuser's password, mode 0600, so that later starts can hand it out.
    var password: String { self.dataDirectory + "/gnomon-password" }
    /// The socket folder of the latest start, so that the next start can delete it.
    var socketDirectoryRecord: String { self.dataDirectory + "/gnomon-socket-directory" }
    /// The server's own log, appended to by every start.
    var serverLog: String { self.dataDirectory + "/gnomon-postgres.log" }
}

extension EmbeddedPostgres {
    /// Creates the data directory if missing and hands it to the server's account.
    func prepareDataDirectory(_ account: ServerAccount?) throws {
        let fileManager = FileManager.default
        let parent = (self.dataDirectory as NSString).deletingLastPathComponent
        // Checked before creating anything, so that no folder is made where the server cannot go.
        try account?.checkCanReach(self.dataDirectory)
        try self.createDirectory(parent, mode: 0o755)
        try account?.checkCanReach(self.dataDirectory)

        guard fileManager.fileExists(atPath: self.dataDirectory) else {
            try self.createDirectory(self.dataDirectory, mode: 0o700)
            try account?.take(self.dataDirectory)
            return
        }
        if fileManager.fileExists(atPath: self.files.version) {
            try self.checkOwner(of: self.dataDirectory, account)
            return
        }
        guard (try? fileManager.contentsOfDirectory(atPath: self.dataDirectory))?.isEmpty ?? false else {
            throw StoreError(
                .initdbFailed,
                "\(self.dataDirectory) is not empty but holds no PostgreSQL cluster (no PG_VERSION); "
                    + "choose an empty or missing folder for a new cluster"
            )
        }
        try account?.take(self.dataDirectory)
    }

    /// Makes a new private socket folder, short enough for a socket path.
    func makeSocketDirectory(_ account: ServerAccount?) throws -> String {
        var template = Array((ClusterFiles.socketDirectoryPrefix + "XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard created else {
            let reason = String(cString: strerror(errno))
            throw StoreError(.permissionDenied, "could not create a socket folder in /tmp: \(reason)")
        }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        try account?.take(path)
        return path
    }

    /// Creates the cluster with `initdb` and keeps its superuser's password.
    ///
    /// - Parameter scratch: A private folder of the server's account for the password file.
    func initialise(_ tools: ServerTools, scratch: String) async throws {
        let password = Self.makePassword()
        let passwordFile = scratch + "/initdb-password"
        try Self.writePrivateFile(passwordFile, contents: password, account: tools.account)
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }

        let output = try await tools.runner.run(tools.path("initdb"), self.initdbArguments(passwordFile: passwordFile))
        try output.check(.initdbFailed, "initdb of \(self.dataDirectory)")
        try Self.writePrivateFile(self.files.password, contents: password, account: tools.account)
        self.logger.info("embedded PostgreSQL initialised", [LogKey.path: self.dataDirectory])
    }

    /// The password kept at initialisation, or nil for a cluster the launcher did not create.
    func storedPassword() -> String? {
        let text = try? String(contentsOfFile: self.files.password, encoding: .utf8)
        return text?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Notes the socket folder in the data directory, for the next start to delete.
    func recordSocketDirectory(_ path: String, account: ServerAccount?) throws {
        try Self.writePrivateFile(self.files.socketDirectoryRecord, contents: path + "\n", account: account)
    }

    private func initdbArguments(passwordFile: String) -> [String] {
        var arguments = [
            "--pgdata=\(self.dataDirectory)", "--username=\(self.configuration.user)",
            "--pwfile=\(passwordFile)", "--encoding=UTF8", "--locale=C",
            "--auth-local=trust", "--auth-host=scram-sha-256",
        ]
        // A caller that runs without fsync does not need initdb's final sync either.
        if self.configuration.settings["fsync"]?.lowercased() == "off" {
            arguments.append("--no-sync")
        }
        return arguments
    }

    private func createDirectory(_ path: String, mode: Int) throws {
        do {
            let attributes: [FileAttributeKey: Any] = [.posixPermissions: mode]
            try FileManager.default.createDirectory(
                atPath: path,
                withIntermediateDirectories: true,
                attributes: attributes
            )
        } catch {
            throw StoreError(.permissionDenied, "could not create the folder \(path)", underlying: error)
        }
    }

    private func checkOwner(of path: String, _ account: ServerAccount?) throws {
        guard let account, let ownership = FileOwnership.of(path), ownership.uid != account.uid else {
            return
        }
        throw StoreError(
            .permissionDenied,
            "\(path) belongs to uid \(ownership.uid), but PostgreSQL runs as '\(account.name)' (uid \(account.uid)) "
                + "when launched by root; give it to that account (chown -R \(account.name)) or use another folder"
        )
    }

    /// A random password of 48 hexadecimal digits.
    private static func makePassword() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Writes a file only its owner can read, and hands it to `account` when given.
    private static func writePrivateFile(_ path: String, contents: String, account: ServerAccount?) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw StoreError(.permissionDenied, "could not write \(path): \(reason)")
        }
        defer { close(descriptor) }
        fchmod(descriptor, 0o600)
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw StoreError(.permissionDenied, "could not write all of \(path)")
        }
        try account?.take(path)
    }
}
