import Foundation
import Glibc
import GnomonStore
import GnomonTestSupport
import Testing

/// `gnomond` as an operator meets it: a real binary, a real embedded PostgreSQL, real signals.
@Suite("gnomond process", .serialized)
struct GnomondProcessTests {
    @Test("with no flags it creates .gnomon, starts PostgreSQL, says where, and exits 0", arguments: [SIGINT, SIGTERM])
    func startsAndStops(signal: Int32) async throws {
        let folder = try TestPostgres.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }

        let gnomond = try GnomondProcess(directory: folder)
        let embedded = try await gnomond.waitForLog("embedded PostgreSQL ready")
        #expect(embedded["path"] == folder + "/.gnomon")
        let ready = try await gnomond.waitForLog("database ready")
        #expect(ready["embedded"] == "true")
        #expect(ready["schema_version"] == String(Migrations.latestVersion))
        #expect(FileManager.default.fileExists(atPath: folder + "/.gnomon/postgres/PG_VERSION"))
        let started = try await gnomond.waitForLog("embedded PostgreSQL started")
        let socketFile = try #require(started["address"])
        #expect(FileManager.default.fileExists(atPath: socketFile))
        _ = try await gnomond.waitForLog("gnomond ready")

        gnomond.child.send(signal)
        #expect(try await gnomond.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: folder + "/.gnomon/postgres/postmaster.pid"))
        #expect(!FileManager.default.fileExists(atPath: socketFile))
        #expect(gnomond.logRecords.last?["message"] == "gnomond stopped")
    }

    @Test("gnomon status answers over TLS from gnomond --dev, and refuses an unknown certificate")
    func statusOverTLS() async throws {
        let folder = try TestPostgres.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }

        let gnomond = try GnomondProcess(arguments: ["--dev"], directory: folder)
        let listening = try await gnomond.waitForLog("listening")
        let address = try #require(listening["address"])
        let caFile = try #require(listening["ca_file"])
        let hint = try await gnomond.waitForLog("connect with")
        let tokenFile = try #require(hint["admin_token_file"])
        #expect(hint["command"]?.contains("--ca \(caFile) --token-file \(tokenFile) status") == true)
        // The token is printed for the developer, never logged.
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(gnomond.standardOutput.contains(token))
        #expect(!gnomond.standardError.contains(token))

        // The node joins the cluster after it starts listening; ready, it has.
        _ = try await gnomond.waitForLog("gnomond ready")
        let cli = GnomondProcess.builtExecutable().replacingOccurrences(of: "/gnomond", with: "/gnomon")
        let status = try GnomondProcess(
            executable: cli,
            arguments: ["--server", address, "--ca", caFile, "--token-file", tokenFile, "-o", "json", "status"],
            directory: folder
        )
        #expect(try await status.waitForExit() == 0)
        let answer = try #require(
            try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [String: Any]
        )
        #expect(answer["protocol"] as? String == "gnomon/1")
        #expect((answer["database"] as? [String: Any])?["state"] as? String == "ready")
        #expect((answer["node_id"] as? String)?.isEmpty == false)
        // A lone node owns every shard and leads upkeep.
        #expect(answer["shard_count"] as? Int == 16)
        #expect(answer["shards_owned"] as? Int == 16)
        #expect(answer["live_nodes"] as? Int == 1)
        #expect(answer["upkeep_leader"] as? Bool == true)

        // gnomon token mint signs with the development key; the server accepts what it signs.
        let keyFile = URL(fileURLWithPath: tokenFile).deletingLastPathComponent().path + "/jwt-signing-key.pem"
        let mint = try GnomondProcess(
            executable: cli,
            arguments: ["token", "mint", "--key", keyFile, "--tenant", "default", "--role", "viewer", "--ttl", "5m"],
            directory: folder)
        #expect(try await mint.waitForExit() == 0)
        let minted = mint.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(minted.split(separator: ".").count == 3)
        let asViewer = try GnomondProcess(
            executable: cli, arguments: ["--server", address, "--ca", caFile, "status"],
            environment: ["GNOMON_TOKEN": minted], directory: folder)
        #expect(try await asViewer.waitForExit() == 0)

        // Without a token the call is refused: exit 4, saying what to send.
        let anonymous = try GnomondProcess(
            executable: cli, arguments: ["--server", address, "--ca", caFile, "status"], directory: folder)
        #expect(try await anonymous.waitForExit() == 4)
        #expect(anonymous.standardError.contains("no credentials"))

        // Without the development CA, the server's certificate cannot be trusted: exit 3.
        let untrusted = try GnomondProcess(
            executable: cli, arguments: ["--server", address, "status"], directory: folder)
        #expect(try await untrusted.waitForExit() == 3)
        #expect(untrusted.standardError.contains("certificate verify failed"))

        gnomond.child.send(SIGTERM)
        #expect(try await gnomond.waitForExit() == 0)
    }

    @Test("after SIGKILL, starting again in the same folder works")
    func restartsAfterKill() async throws {
        let folder = try TestPostgres.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }

        let first = try GnomondProcess(directory: folder)
        let started = try await first.waitForLog("embedded PostgreSQL started")
        _ = try await first.waitForLog("gnomond ready")
        first.child.send(SIGKILL)
        #expect(try await first.waitForExit() == 128 + SIGKILL)

        // The first server outlives its parent; the next start must deal with it.
        let orphan = try #require(started["pid"].flatMap { Int32($0) })
        #expect(kill(orphan, 0) == 0)

        let second = try GnomondProcess(directory: folder)
        _ = try await second.waitForLog("gnomond ready")
        let server = try await second.waitForLog("embedded PostgreSQL started")
        #expect(server["pid"] != started["pid"])
        second.child.send(SIGTERM)
        #expect(try await second.waitForExit() == 0)
    }

    @Test("it runs as an unprivileged user as well as root")
    func runsUnprivileged() async throws {
        let folder = try TestPostgres.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }

        // As root, run a copy of the binary as `nobody`, from a folder that account owns; as
        // anyone else, the tests already run unprivileged.
        var executable = GnomondProcess.builtExecutable()
        var user: (uid: UInt32, gid: UInt32)?
        if geteuid() == 0 {
            let nobody = try #require(getpwnam("nobody")?.pointee)
            executable = folder + "/gnomond"
            try FileManager.default.copyItem(atPath: GnomondProcess.builtExecutable(), toPath: executable)
            #expect(chown(folder, nobody.pw_uid, nobody.pw_gid) == 0)
            user = (nobody.pw_uid, nobody.pw_gid)
        }

        let gnomond = try GnomondProcess(executable: executable, directory: folder, user: user)
        _ = try await gnomond.waitForLog("gnomond ready")
        let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/.gnomon/postgres")
        let owner = try #require(attributes[.ownerAccountID] as? NSNumber)
        #expect(owner.uint32Value == user?.uid ?? geteuid())

        gnomond.child.send(SIGINT)
        #expect(try await gnomond.waitForExit() == 0)
    }

    @Test("a data folder the server's account cannot reach gets its cluster kept where it can")
    func unreachableDataFolder() async throws {
        let folder = try TestPostgres.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Like root's home: nobody else may enter.
        #expect(chmod(folder, 0o700) == 0)

        let gnomond = try GnomondProcess(directory: folder)
        _ = try await gnomond.waitForLog("gnomond ready")
        let started = try await gnomond.waitForLog("embedded PostgreSQL started")
        #expect(started["pid"] != nil)
        let moved = gnomond.logRecords.first { $0["message"]?.hasPrefix("embedded PostgreSQL kept outside") == true }
        if geteuid() == 0 {
            let cluster = try #require(moved?["path"])
            #expect(cluster.hasPrefix("/var/lib/gnomon/gnomon-"))
            #expect(FileManager.default.fileExists(atPath: cluster + "/PG_VERSION"))
            gnomond.child.send(SIGTERM)
            #expect(try await gnomond.waitForExit() == 0)
            try FileManager.default.removeItem(atPath: cluster)
        } else {
            #expect(moved == nil)
            #expect(FileManager.default.fileExists(atPath: folder + "/.gnomon/postgres/PG_VERSION"))
            gnomond.child.send(SIGTERM)
            #expect(try await gnomond.waitForExit() == 0)
        }
    }

    @Test("with --database-url it migrates that PostgreSQL and starts none of its own")
    func usesDatabaseURL() async throws {
        let folder = try TestPostgres.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }

        try await TestDatabase.with(migrated: false) { database in
            let gnomond = try GnomondProcess(
                arguments: ["--database-url", database.connectionString], directory: folder)
            let ready = try await gnomond.waitForLog("database ready")
            #expect(ready["embedded"] == "false")
            #expect(ready["server_version"]?.hasPrefix("1") == true)
            // The data folder holds only the development certificate: no cluster of its own.
            #expect(!FileManager.default.fileExists(atPath: folder + "/.gnomon/postgres"))
            #expect(try await database.recordedVersions() == Migrations.all.map(\.version))

            gnomond.child.send(SIGTERM)
            #expect(try await gnomond.waitForExit() == 0)
        }
    }

    @Test("several nodes starting at once against one database apply each migration once")
    func concurrentNodes() async throws {
        try await TestDatabase.with(migrated: false) { database in
            let folders = try (0..<3).map { _ in try TestPostgres.makeTemporaryFolder() }
            defer {
                for folder in folders {
                    try? FileManager.default.removeItem(atPath: folder)
                }
            }
            let nodes = try folders.map { folder in
                try GnomondProcess(arguments: ["--database-url", database.connectionString], directory: folder)
            }
            for node in nodes {
                _ = try await node.waitForLog("gnomond ready")
            }
            let applied = nodes.flatMap { $0.logRecords.filter { $0["message"] == "migration applied" } }
            #expect(applied.count == Migrations.all.count)
            #expect(try await database.recordedVersions() == Migrations.all.map(\.version))
            for node in nodes {
                node.child.send(SIGTERM)
                #expect(try await node.waitForExit() == 0)
            }
        }
    }

    @Test("an unreachable database fails the start with status 1 and says why")
    func unreachableDatabase() async throws {
        let folder = try TestPostgres.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }

        let gnomond = try GnomondProcess(
            arguments: ["--database-url", "host=\(folder) port=1 dbname=none connect_timeout=2"],
            directory: folder
        )
        #expect(try await gnomond.waitForExit() == 1)
        let failure = try #require(gnomond.logRecords.first { $0["message"] == "gnomond failed" })
        #expect(failure["error"]?.isEmpty == false)
    }

    @Test(
        "bad flags and values exit 2 with one line naming what was wrong",
        arguments: [
            (["--bogus"], "--bogus"),
            (["--log-level", "loud"], "--log-level"),
            (["--listen", "nowhere"], "--listen"),
            (["--database-url", "postgresql://[bad"], "--database-url"),
            (["--database-url", "postgresql://x/y", "--embedded-postgres-port", "0"], "--embedded-postgres-port"),
        ]
    )
    func usageErrors(arguments: [String], flag: String) async throws {
        let folder = try TestPostgres.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }

        let gnomond = try GnomondProcess(arguments: arguments, directory: folder)
        #expect(try await gnomond.waitForExit() == 2)
        let lines = gnomond.standardError.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("gnomond: ") == true)
        #expect(lines.first?.contains(flag) == true)
        #expect(!FileManager.default.fileExists(atPath: folder + "/.gnomon"))
    }

    @Test("--help documents every option and exits 0")
    func help() async throws {
        let folder = try TestPostgres.makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }

        let gnomond = try GnomondProcess(arguments: ["--help"], directory: folder)
        #expect(try await gnomond.waitForExit() == 0)
        let help = gnomond.standardOutput
        let options = [
            "--data-dir", "--database-url", "--embedded-postgres-port", "--listen", "--metrics-listen",
            "--node-id", "--log-level", "--log-format", "--dev", "--shutdown-timeout", "--help", "--version",
        ]
        for option in options {
            #expect(help.contains(option), "help does not mention \(option)")
        }
        #expect(help.contains("GNOMON_DATA_DIR"))
    }
}
