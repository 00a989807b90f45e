import Foundation
import GnomonCore
import GnomonTestSupport
import Synchronization
import Testing

@testable import GnomonStore

@Suite("Migrations")
struct MigrationTests {
    private var everyVersion: [Int] {
        Array(1...Migrations.latestVersion)
    }

    @Test("all migrations apply to an empty database, in order, each logged once")
    func applyToEmptyDatabase() async throws {
        try await TestDatabase.with(migrated: false) { database in
            let log = LogRecorder()
            let applied = try await database.withConnection { try Migrations.apply(on: $0, logger: log.logger) }
            #expect(applied == self.everyVersion)
            #expect(try await database.recordedVersions() == self.everyVersion)

            let records = log.records(withMessage: "migration applied")
            #expect(records.map(\.level) == Array(repeating: .info, count: applied.count))
            #expect(records.first?.metadata["migration_version"] == "1")
            #expect(records.first?.metadata["migration_name"] == Migrations.all.first?.name)
        }
    }

    @Test("applying again applies nothing")
    func applyTwice() async throws {
        try await TestDatabase.with(migrated: false) { database in
            let first = try await database.withConnection { try Migrations.apply(on: $0, logger: .disabled) }
            let second = try await database.withConnection { try Migrations.apply(on: $0, logger: .disabled) }
            #expect(first == self.everyVersion)
            #expect(second.isEmpty)
            #expect(try await database.recordedVersions() == self.everyVersion)
        }
    }

    @Test("eight nodes migrating one database at once apply each migration exactly once")
    func concurrentAppliers() async throws {
        try await TestDatabase.with(migrated: false) { database in
            let log = LogRecorder()
            let results = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await database.withConnection { try Migrations.apply(on: $0, logger: log.logger) }
                    }
                }
                return try await group.reduce(into: [[Int]]()) { $0.append($1) }
            }
            #expect(results.count == 8)
            #expect(results.flatMap { $0 }.sorted() == self.everyVersion)
            #expect(results.filter(\.isEmpty).count == 7)
            #expect(log.records(withMessage: "migration applied").count == Migrations.latestVersion)
            #expect(try await database.recordedVersions() == self.everyVersion)
        }
    }

    @Test("a database migrated by a newer binary is refused, naming both versions")
    func newerSchemaRefused() async throws {
        try await TestDatabase.with { database in
            let newer = Migrations.latestVersion + 1
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { connection in
                    try connection.query(
                        "INSERT INTO gnomon_schema_migrations (version, name, checksum) VALUES ($1, 'future', '')",
                        [newer]
                    )
                    return try Migrations.apply(on: connection, logger: .disabled)
                }
            }
            #expect(error?.code == .schemaTooNew)
            #expect(error?.message.contains("version \(newer)") == true)
            #expect(error?.message.contains("up to \(Migrations.latestVersion)") == true)
        }
    }

    @Test("a failing migration is rolled back with its version row; the ones before it stay")
    func failingMigration() async throws {
        let migrations = [
            Migration(version: 1, name: "first", sql: "CREATE TABLE first_table (n int);"),
            Migration(version: 2, name: "second", sql: "CREATE TABLE second_table (n int); SELECT 1 / 0;"),
        ]
        try await TestDatabase.with(migrated: false) { database in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { try Migrations.apply(migrations, on: $0, logger: .disabled) }
            }
            #expect(error?.code == .migrationFailed)
            #expect(error?.sqlState == "22012")
            #expect(error?.message.contains("migration 2 (second)") == true)
            #expect(try await database.recordedVersions() == [1])

            let tables = try await database.withConnection { connection in
                try connection.query(
                    "SELECT to_regclass('first_table') IS NOT NULL AS kept, to_regclass('second_table') IS NULL AS gone"
                ).first.map { try [$0.bool("kept"), $0.bool("gone")] }
            }
            #expect(tables == [true, true])
        }
    }

    @Test("an applied migration edited later is reported and not applied again")
    func editedMigration() async throws {
        let original = Migration(version: 1, name: "first", sql: "CREATE TABLE first_table (n int);")
        let edited = Migration(version: 1, name: "first", sql: "CREATE TABLE first_table (n bigint);")
        try await TestDatabase.with(migrated: false) { database in
            let log = LogRecorder()
            let applied = try await database.withConnection { connection in
                try Migrations.apply([original], on: connection, logger: .disabled)
                    + Migrations.apply([edited], on: connection, logger: log.logger)
            }
            #expect(applied == [1])
            let warnings = log.records(
                withMessage: "applied migration was edited later; the database keeps what was applied")
            #expect(warnings.map(\.level) == [.warning])
            #expect(warnings.first?.metadata["migration_version"] == "1")
        }
    }

    @Test("migrating inside an open transaction is refused before anything runs")
    func insideTransaction() async throws {
        try await TestDatabase.with(migrated: false) { database in
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { connection in
                    try connection.transaction { try Migrations.apply(on: $0, logger: .disabled) }
                }
            }
            #expect(error?.code == .invalidParameter)
            let exists = try await database.withConnection { connection in
                try connection.query("SELECT to_regclass('gnomon_schema_migrations') IS NOT NULL AS e").first?.bool("e")
            }
            #expect(exists == false)
        }
    }

    @Test("the advisory lock is released after migrating, even when a migration fails")
    func lockReleased() async throws {
        let failing = [Migration(version: 1, name: "broken", sql: "SELEKT;")]
        try await TestDatabase.with(migrated: false) { database in
            let held = try await database.withConnection { connection -> Bool in
                _ = try? Migrations.apply(failing, on: connection, logger: .disabled)
                return try connection.query(
                    "SELECT count(*) > 0 AS held FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                ).first?.bool("held") ?? true
            }
            #expect(!held)
        }
    }
}
