import GnomonCore

extension Migrations {
    /// Creates the table of applied versions unless it exists; called under the lock.
    static func createVersionTable(on connection: PostgresConnection) throws {
        // Looked up first rather than CREATE TABLE IF NOT EXISTS, whose notice every node
        // would print on every start.
        let found = try connection.query("SELECT to_regclass('gnomon_schema_migrations') IS NOT NULL AS found")
        guard try found.first?.bool("found") != true else {
            return
        }
        try connection.execute(
            script: """
                CREATE TABLE gnomon_schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
        )
    }

    /// The versions applied so far, each with the checksum its text had then.
    static func appliedChecksums(on connection: PostgresConnection) throws -> [Int: String] {
        let result = try connection.query("SELECT version, checksum FROM gnomon_schema_migrations")
        var applied: [Int: String] = [:]
        for row in result.rows {
            applied[try row.int("version")] = try row.string("checksum")
        }
        return applied
    }

    /// Throws when the database holds a version newer than any in `known`.
    ///
    /// A newer node migrated this database; an older binary must not run against a schema
    /// whose meaning it does not know, and migrations are never undone.
    static func refuseNewerSchema(applied: [Int: String], known: [Migration]) throws {
        let latest = known.last?.version ?? 0
        guard let newest = applied.keys.max(), newest > latest else {
            return
        }
        throw StoreError(
            .schemaTooNew,
            "the database is at schema version \(newest), but this binary knows versions up to \(latest) only; "
                + "run a gnomond at least as new as the one that migrated it"
        )
    }

    /// Logs a warning for each applied migration whose text has changed since.
    static func reportEdited(_ migrations: [Migration], applied: [Int: String], logger: Logger) {
        for migration in migrations {
            guard let recorded = applied[migration.version], recorded != migration.checksum else {
                continue
            }
            logger.warning(
                "applied migration was edited later; the database keeps what was applied",
                [LogKey.migrationVersion: String(migration.version), LogKey.migrationName: migration.name]
            )
        }
    }

    /// Runs one migration and records it, in one transaction.
    static func applyOne(_ migration: Migration, on connection: PostgresConnection) throws {
        do {
            try connection.transaction { connection in
                try connection.execute(script: migration.sql)
                try connection.query(
                    "INSERT INTO gnomon_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    [migration.version, migration.name, migration.checksum]
                )
            }
        } catch let error as StoreError {
            throw StoreError(
                .migrationFailed,
                "migration \(migration.version) (\(migration.name)) failed and was rolled back: \(error.message)",
                underlying: error,
                sqlState: error.sqlState
            )
        }
    }
}
