import Foundation
import Glibc

/// The PostgreSQL programs found for a cluster, and how to run them.
struct ServerTools: Sendable {
    var binDirectory: String
    var account: ServerAccount?
    var runner: CommandRunner

    /// The path of one of the programs, such as `pg_ctl`.
    func path(_ program: String) -> String {
        self.binDirectory + "/" + program
    }
}

extension EmbeddedPostgres {
    /// The programs and account to use, found on first need and then kept.
    func loadTools() async throws -> ServerTools {
        if let tools = self.tools {
            return tools
        }
        let account = try ServerAccount.forLauncher(unprivilegedUser: self.configuration.unprivilegedUser)
        let runner = try account.map(CommandRunner.switching(to:)) ?? CommandRunner.current()
        let tools = ServerTools(binDirectory: try await self.locateBinaries(), account: account, runner: runner)
        self.tools = tools
        return tools
    }

    private func locateBinaries() async throws -> String {
        let locator = PostgresBinaryLocator(
            configured: self.configuration.binDirectory,
            environment: ProcessInfo.processInfo.environment
        )
        var pgConfigAnswer: String?
        if locator.explicitChoice == nil, let pgConfig = locator.pgConfigPath {
            if let output = try? await CommandRunner.current().run(pgConfig, ["--bindir"]) {
                pgConfigAnswer = PostgresBinaryLocator.parseBinDirectory(
                    status: output.status,
                    output: output.standardOutput
                )
            }
        }
        return try locator.locate(pgConfigBinDirectory: pgConfigAnswer)
    }

    /// Starts the server with `pg_ctl start -w`, retrying a picked port that was taken meanwhile.
    func launch(_ tools: ServerTools, socketDirectory: String) async throws -> PostgresEndpoint {
        var attempt = 1
        while true {
            let port = try self.choosePort()
            do {
                try await self.launch(tools, socketDirectory: socketDirectory, port: port)
                return self.makeEndpoint(socketDirectory: socketDirectory, port: port)
            } catch let error as StoreError
                where self.configuration.tcpPort == 0 && attempt < 3 && error.message.contains("already in use")
            {
                attempt += 1
            }
        }
    }

    private func launch(_ tools: ServerTools, socketDirectory: String, port: Int) async throws {
        let settings = self.configuration.serverSettings(port: port, socketDirectory: socketDirectory)
        let logOffset = Self.fileSize(self.files.serverLog)
        let arguments = [
            "start", "-D", self.dataDirectory, "-w", "-t", "60", "-s", "-l", self.files.serverLog,
            "-o", ShellQuoting.postmasterOptions(settings),
        ]
        let output = try await tools.runner.run(tools.path("pg_ctl"), arguments)
        guard output.status != 0 else {
            return
        }
        let log = Self.readFile(self.files.serverLog, from: logOffset)
        throw StoreError(
            .startFailed,
            "pg_ctl start of \(self.dataDirectory) failed with exit status \(output.status): "
                + "\(CommandOutput.tail(output.standardError, limit: 500)); server log: "
                + CommandOutput.tail(log)
        )
    }

    private func makeEndpoint(socketDirectory: String, port: Int) -> PostgresEndpoint {
        let listensOnTCP = self.configuration.tcpPort != nil
        return PostgresEndpoint(
            socketDirectory: socketDirectory,
            port: port,
            listensOnTCP: listensOnTCP,
            user: self.configuration.user,
            database: self.configuration.database,
            password: listensOnTCP ? self.storedPassword() : nil
        )
    }

    private func choosePort() throws -> Int {
        switch self.configuration.tcpPort {
        case .none:
            // Each cluster has its own socket folder, so the default port never collides.
            return 5_432
        case .some(0):
            return try Self.freeLoopbackPort()
        case .some(let port):
            return port
        }
    }

    /// Asks the kernel for a 127.0.0.1 port that is free right now.
    static func freeLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else {
            throw StoreError(.startFailed, "could not open a socket to find a free port: errno \(errno)")
        }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let found = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard found else {
            throw StoreError(.startFailed, "could not find a free 127.0.0.1 port: errno \(errno)")
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func fileSize(_ path: String) -> UInt64 {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    private static func readFile(_ path: String, from offset: UInt64) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return ""
        }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }
}
