public import GnomonCore

/// One numbered schema change, applied once and never edited after it is released.
public struct Migration: Sendable, Hashable {
    /// The number in the file's name: 1 for the first, with no gaps.
    public let version: Int
    /// The rest of the file's name, such as `live_jobs`.
    public let name: String
    /// The statements, run in one transaction.
    public let sql: String

    /// Creates a migration.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// A fingerprint of ``sql`` (64-bit FNV-1a over its UTF-8), recorded when it is applied.
    ///
    /// Not a security measure: it only notices a released migration that was edited later.
    public var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in self.sql.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// The store's schema changes, embedded in the binary, and the runner that applies them.
///
/// Every node applies migrations when it starts. They are applied under a session advisory
/// lock, so nodes starting together apply each one exactly once; each migration runs in its
/// own transaction together with its row in `gnomon_schema_migrations`.
public enum Migrations {
    /// Every migration, in version order.
    public static let all: [Migration] = Self.embedded

    /// The version of the newest migration this binary knows.
    public static var latestVersion: Int {
        Self.all.last?.version ?? 0
    }

    /// The advisory lock every node takes while migrating: "gnomon" followed by 0001.
    static let lockKey: Int64 = 0x676e_6f6d_6f6e_0001

    /// Applies every migration the database lacks, oldest first.
    ///
    /// - Parameters:
    ///   - connection: A connection as the role that owns the schema, outside any transaction.
    ///   - logger: Receives "migration applied" at info for each one applied now.
    /// - Returns: The versions applied by this call; empty when the database was current.
    /// - Throws: ``StoreError`` with code `schemaTooNew` when the database has a version this
    ///   binary does not know, `migrationFailed` when a migration fails (it is rolled back,
    ///   and the ones before it stay applied), or `queryFailed`.
    @discardableResult
    public static func apply(on connection: PostgresConnection, logger: Logger) throws -> [Int] {
        try self.apply(self.all, on: connection, logger: logger)
    }

    /// Applies those of `migrations` the database lacks; tests pass migrations of their own.
    static func apply(_ migrations: [Migration], on connection: PostgresConnection, logger: Logger) throws -> [Int] {
        guard !connection.isInTransaction else {
            throw StoreError(
                .invalidParameter,
                "migrations run in transactions of their own; apply them on a connection outside a transaction"
            )
        }
        try connection.query("SELECT pg_advisory_lock($1)", [self.lockKey])
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [self.lockKey]) }

        try self.createVersionTable(on: connection)
        let applied = try self.appliedChecksums(on: connection)
        try self.refuseNewerSchema(applied: applied, known: migrations)
        self.reportEdited(migrations, applied: applied, logger: logger)

        var appliedNow: [Int] = []
        for migration in migrations where applied[migration.version] == nil {
            try self.applyOne(migration, on: connection)
            logger.info(
                "migration applied",
                [LogKey.migrationVersion: String(migration.version), LogKey.migrationName: migration.name])
            appliedNow.append(migration.version)
        }
        return appliedNow
    }
}

extension LogKey {
    /// The version of a schema migration.
    static let migrationVersion = "migration_version"
    /// The name of a schema migration, such as `live_jobs`.
    static let migrationName = "migration_name"
}

extension StoreError.Code {
    /// The database has a schema version newer than this binary knows.
    public static let schemaTooNew = Self(raw: "schema_too_new")
    /// A migration failed and was rolled back.
    public static let migrationFailed = Self(raw: "migration_failed")
}
