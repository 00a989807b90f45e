import Foundation

extension EmbeddedPostgres {
    /// Finds the folder holding PostgreSQL's `initdb` and `pg_ctl`.
    ///
    /// Looks at `$GNOMON_PG_BINDIR`, then `pg_config --bindir`, then the highest
    /// `/usr/lib/postgresql/<N>/bin`, then each folder on `PATH`. This blocks the calling thread
    /// while `pg_config` runs; ``start()`` does the same search without blocking.
    ///
    /// - Returns: The folder's path.
    /// - Throws: ``StoreError`` with code `binariesNotFound`, naming every place looked.
    public static func discoverBinDirectory() throws -> String {
        let locator = PostgresBinaryLocator(configured: nil, environment: ProcessInfo.processInfo.environment)
        var pgConfigAnswer: String?
        if locator.explicitChoice == nil, let pgConfig = locator.pgConfigPath {
            pgConfigAnswer = PostgresBinaryLocator.blockingBinDirectory(pgConfig: pgConfig)
        }
        return try locator.locate(pgConfigBinDirectory: pgConfigAnswer)
    }
}

/// Finds the folder with PostgreSQL's server programs by looking in a fixed order of places.
struct PostgresBinaryLocator: Sendable {
    /// One place looked at, and the folder it pointed to, if any.
    struct Candidate: Equatable, Sendable {
        var place: String
        var directory: String?
    }

    /// The programs a folder must hold to be chosen.
    static let requiredTools = ["initdb", "pg_ctl"]

    var configured: String?
    var environment: [String: String]
    var versionsRoot = "/usr/lib/postgresql"
    var isExecutable: @Sendable (String) -> Bool = { FileManager.default.isExecutableFile(atPath: $0) }
    var listDirectory: @Sendable (String) -> [String] = {
        (try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? []
    }

    /// The folder chosen by configuration or environment, which is used or refused, never skipped.
    var explicitChoice: Candidate? {
        if let configured = self.configured {
            return Candidate(place: "Configuration.binDirectory", directory: configured)
        }
        if let fromEnvironment = self.environment["GNOMON_PG_BINDIR"], !fromEnvironment.isEmpty {
            return Candidate(place: "$GNOMON_PG_BINDIR", directory: fromEnvironment)
        }
        return nil
    }

    /// The `pg_config` program found on `PATH`, if any.
    var pgConfigPath: String? {
        self.pathDirectories.map { $0 + "/pg_config" }.first(where: self.isExecutable)
    }

    /// Returns the first place holding every required program.
    ///
    /// - Parameter pgConfigBinDirectory: What `pg_config --bindir` printed, or nil if it could not run.
    func locate(pgConfigBinDirectory: String?) throws -> String {
        let candidates = self.explicitChoice.map { [$0] } ?? self.candidates(pgConfigBinDirectory: pgConfigBinDirectory)
        if let found = candidates.first(where: { $0.directory.map(self.hasTools) ?? false }) {
            return found.directory!
        }
        throw self.notFound(candidates)
    }

    /// The discovered places in the order they are tried.
    func candidates(pgConfigBinDirectory: String?) -> [Candidate] {
        let versioned = self.versionedDirectories()
        let path = self.pathDirectories
        return [Candidate(place: "pg_config --bindir", directory: pgConfigBinDirectory)]
            + (versioned.isEmpty
                ? [Candidate(place: "\(self.versionsRoot)/<N>/bin", directory: nil)]
                : versioned.map { Candidate(place: "\(self.versionsRoot)/<N>/bin", directory: $0) })
            + (path.isEmpty
                ? [Candidate(place: "PATH", directory: nil)]
                : path.map { Candidate(place: "PATH", directory: $0) })
    }

    /// The `<root>/<N>/bin` folders, highest version first, comparing versions as numbers.
    func versionedDirectories() -> [String] {
        let versions = self.listDirectory(self.versionsRoot).compactMap { name -> (String, [Int])? in
            let parts = name.split(separator: ".").map { Int($0) }
            guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
                return nil
            }
            return (name, parts.map { $0! })
        }
        let sorted = versions.sorted { $0.1.lexicographicallyPrecedes($1.1) }.reversed()
        return sorted.map { "\(self.versionsRoot)/\($0.0)/bin" }
    }

    private var pathDirectories: [String] {
        (self.environment["PATH"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }

    private func hasTools(_ directory: String) -> Bool {
        Self.requiredTools.allSatisfy { self.isExecutable(directory + "/" + $0) }
    }

    private func notFound(_ candidates: [Candidate]) -> StoreError {
        let looked = candidates.map { candidate in
            candidate.directory.map { "\(candidate.place): \($0)" } ?? "\(candidate.place): nothing there"
        }
        return StoreError(
            .binariesNotFound,
            "no folder with PostgreSQL's \(Self.requiredTools.joined(separator: " and ")) was found; looked at "
                + looked.joined(separator: "; ")
                + ". Install PostgreSQL (e.g. apt-get install postgresql) or set $GNOMON_PG_BINDIR "
                + "or Configuration.binDirectory to the folder holding initdb"
        )
    }

    /// Runs `pg_config --bindir`, blocking the calling thread until it exits.
    static func blockingBinDirectory(pgConfig: String) -> String? {
        guard let output = try? CommandRunner.current().runBlocking(pgConfig, ["--bindir"]) else {
            return nil
        }
        return self.parseBinDirectory(status: output.status, output: output.standardOutput)
    }

    /// Reads `pg_config --bindir` output: one path, or nothing useful when it failed.
    static func parseBinDirectory(status: Int32, output: String) -> String? {
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return status == 0 && text.hasPrefix("/") ? text : nil
    }
}
