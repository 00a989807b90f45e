import Foundation

extension EmbeddedPostgres {
    /// Where an embedded cluster lives and how its server is reached.
    public struct Configuration: Sendable {
        /// The cluster's own folder (`PGDATA`); created, with missing parents, on first start.
        public var dataDirectory: String
        /// `nil` for the unix socket only, `0` to pick a free 127.0.0.1 port, or that port.
        public var tcpPort: Int?
        /// The folder holding `initdb` and `pg_ctl`; `nil` to discover it.
        public var binDirectory: String?
        /// The cluster's superuser, as given to `initdb --username`.
        public var user: String = "gnomon"
        /// The database created on first start and named in the endpoint.
        public var database: String = "gnomon"
        /// Extra server settings passed as `-c name=value`, such as `fsync: "off"` for tests.
        ///
        /// The launcher's own settings (`port`, `listen_addresses`, `unix_socket_directories`,
        /// `cluster_name`) take precedence over these.
        public var settings: [String: String] = [:]
        /// The system account the server runs as when the launcher is root, which PostgreSQL refuses.
        public var unprivilegedUser: String = "postgres"

        /// Creates a configuration with the default user, database and settings.
        ///
        /// - Parameters:
        ///   - dataDirectory: The cluster's folder; a relative path is taken from the current directory.
        ///   - tcpPort: `nil` for the unix socket only, `0` for any free port, or that port.
        ///   - binDirectory: The folder holding `initdb` and `pg_ctl`, or `nil` to discover it.
        public init(dataDirectory: String, tcpPort: Int? = nil, binDirectory: String? = nil) {
            self.dataDirectory = dataDirectory
            self.tcpPort = tcpPort
            self.binDirectory = binDirectory
        }
    }
}

extension EmbeddedPostgres.Configuration {
    /// The data directory as an absolute path without `.`, `..` or a trailing slash.
    public var absoluteDataDirectory: String {
        URL(fileURLWithPath: self.dataDirectory).standardizedFileURL.path
    }

    /// A name unique to this data directory, shown by `ps` for every process of the cluster.
    ///
    /// Backends do not show their data directory, so this is how leftovers of a crashed
    /// server are told apart from other clusters' processes.
    public var clusterName: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in self.absoluteDataDirectory.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "gnomon-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Checks the values that would otherwise fail late and obscurely.
    func validate() throws {
        if let port = self.tcpPort, !(0...65_535).contains(port) {
            throw StoreError(.invalidConfiguration, "tcpPort \(port) is not a port; use nil, 0 or 1...65535")
        }
        if self.user.isEmpty || self.database.isEmpty {
            throw StoreError(.invalidConfiguration, "the cluster's user and database names must not be empty")
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_.")
        for name in self.settings.keys where name.isEmpty || !name.lowercased().allSatisfy(allowed.contains) {
            throw StoreError(
                .invalidConfiguration,
                "server setting name '\(name)' is not valid; use names such as fsync or synchronous_commit"
            )
        }
    }

    /// The `-c` settings for one start, the caller's first so that the launcher's win.
    func serverSettings(port: Int, socketDirectory: String) -> [(String, String)] {
        let own: [(String, String)] = [
            ("listen_addresses", self.tcpPort == nil ? "" : "127.0.0.1"),
            ("port", String(port)),
            ("unix_socket_directories", socketDirectory),
            ("cluster_name", self.clusterName),
        ]
        let ownNames = Set(own.map(\.0))
        let extra = self.settings.sorted { $0.key < $1.key }.filter { !ownNames.contains($0.key.lowercased()) }
        return extra.map { ($0.key, $0.value) } + own
    }
}

/// Quoting for the one shell command line `pg_ctl` hands its `-o` options to.
enum ShellQuoting {
    /// Quotes a word for `/bin/sh` so that it reaches the program unchanged.
    static func quote(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    /// The `-o` argument of `pg_ctl start` that passes each setting as `-c name=value`.
    static func postmasterOptions(_ settings: [(String, String)]) -> String {
        settings.map { "-c " + self.quote("\($0.0)=\($0.1)") }.joined(separator: " ")
    }
}
