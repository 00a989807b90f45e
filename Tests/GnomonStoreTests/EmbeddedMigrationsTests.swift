import Foundation
import GnomonStore
import Testing

@Suite("Embedded migrations")
struct EmbeddedMigrationsTests {
    /// Sources/GnomonStore/Migrations, found from this file's own path.
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Sources/GnomonStore/Migrations")

    /// The .sql files on disk, by name.
    static func files() throws -> [String: String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path)
        var files: [String: String] = [:]
        for name in names where name.hasSuffix(".sql") {
            files[name] = try String(contentsOf: Self.folder.appendingPathComponent(name), encoding: .utf8)
        }
        return files
    }

    @Test("versions run from 1 with no gap and no repeat")
    func contiguousVersions() {
        let versions = Migrations.all.map(\.version)
        #expect(!versions.isEmpty)
        #expect(versions == Array(1...versions.count))
        #expect(Migrations.latestVersion == versions.count)
    }

    @Test("names are unique snake_case")
    func names() {
        let names = Migrations.all.map(\.name)
        #expect(Set(names).count == names.count)
        for name in names {
            #expect(name.first?.isLetter == true, "\(name)")
            #expect(name.allSatisfy { ($0.isLowercase && $0.isASCII) || $0.isNumber || $0 == "_" }, "\(name)")
        }
    }

    @Test("the embedded text equals the .sql files on disk, and every file is embedded")
    func matchesFiles() throws {
        let files = try Self.files()
        let embedded = Migrations.all.map { migration in
            (String(format: "%04d_%@.sql", migration.version, migration.name), migration.sql)
        }
        #expect(Set(files.keys) == Set(embedded.map(\.0)))
        for (name, sql) in embedded {
            #expect(files[name] == sql, "\(name) differs from its embedded copy; run scripts/embed-migrations")
        }
    }

    @Test("no migration controls its own transaction or needs to run outside one")
    func noTransactionControl() {
        // A migration runs in a transaction with its version row, so none may end that
        // transaction or run a statement that refuses to run inside one.
        let statements = ["BEGIN;", "BEGIN TRANSACTION", "START TRANSACTION", "COMMIT", "ROLLBACK", "VACUUM"]
        for migration in Migrations.all {
            let lines = migration.sql.split(separator: "\n").map {
                $0.trimmingCharacters(in: .whitespaces).uppercased()
            }
            for line in lines where !line.hasPrefix("--") {
                let refused = statements.contains { line.hasPrefix($0) } || line.contains(" CONCURRENTLY")
                #expect(!refused, "migration \(migration.version): \(line)")
            }
        }
    }

    @Test("the checksum is a stable 16-digit fingerprint that changes with the text")
    func checksum() {
        let migration = Migration(version: 1, name: "first", sql: "CREATE TABLE t (n int);")
        let edited = Migration(version: 1, name: "first", sql: "CREATE TABLE t (n bigint);")
        #expect(migration.checksum == Migration(version: 9, name: "other", sql: migration.sql).checksum)
        #expect(migration.checksum != edited.checksum)
        #expect(migration.checksum.count == 16)
        #expect(Migration(version: 1, name: "empty", sql: "").checksum == "cbf29ce484222325")
    }
}
