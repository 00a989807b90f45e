import Foundation
import GnomonTestSupport
import Synchronization
import Testing

@testable import GnomonStore

/// The libpq layer against a real server: parameters, errors, transactions, notifications.
@Suite("PostgreSQL connection")
struct PostgresConnectionTests {
    private func connect() async throws -> PostgresConnection {
        try PostgresConnection(connectionString: try await TestPostgres.shared().socketConnectionString)
    }

    @Test(
        "values travel as parameters and come back byte for byte",
        arguments: [
            "'); DROP TABLE jobs; --", "quote ' and \" and \\", "ünïcødé ✓ 🦉",
            String(repeating: "x", count: 10_000_000),
        ]
    )
    func textRoundTrip(value: String) async throws {
        let connection = try await self.connect()
        let row = try #require(try connection.query("SELECT $1::text AS value, length($1::text) AS n", [value]).first)
        #expect(try row.string("value") == value)
        #expect(try row.int("n") == value.count)
    }

    @Test(
        "dates bind as timestamptz exact to the microsecond",
        arguments: [0, -1.5, 1_764_806_400.123456, -12_219_292_800, 253_402_300_799.999999]
    )
    func dates(seconds: Double) async throws {
        let connection = try await self.connect()
        let date = Date(timeIntervalSince1970: seconds)
        let row = try #require(
            try connection.query("SELECT (extract(epoch FROM $1::timestamptz) * 1000000)::bigint AS micros", [date])
                .first
        )
        #expect(try row.int64("micros") == Int64((seconds * 1_000_000).rounded()))
    }

    @Test("bytea carries every byte value, including NUL")
    func bytesRoundTrip() async throws {
        let connection = try await self.connect()
        let bytes = (0..<1_024).map { UInt8(truncatingIfNeeded: $0) }
        let row = try #require(try connection.query("SELECT $1::bytea AS value", [bytes]).first)
        #expect(try row.bytes("value") == bytes)
    }

    @Test("text with a NUL character is refused before it is sent, never cut short")
    func nulInText() async throws {
        let connection = try await self.connect()
        let error = #expect(throws: StoreError.self) {
            try connection.query("SELECT $1::text", ["a\u{0}b"])
        }
        #expect(error?.code == .invalidParameter)
        #expect(error?.message.contains("$1") == true)
        #expect(try connection.query("SELECT 1 AS one").first?["one"] == "1")
    }

    @Test("errors carry the server's SQLSTATE and message", arguments: [("SELECT 1/0", "22012"), ("SELEKT", "42601")])
    func sqlState(statement: String, state: String) async throws {
        let connection = try await self.connect()
        let error = #expect(throws: StoreError.self) {
            try connection.query(statement)
        }
        #expect(error?.code == .queryFailed)
        #expect(error?.sqlState == state)
        #expect(error?.message.isEmpty == false)
    }

    @Test("a statement is prepared once per connection and reused")
    func preparedOnce() async throws {
        let connection = try await self.connect()
        for number in 0..<5 {
            try connection.query("SELECT $1::int + 1 AS next", [number])
        }
        let prepared = try connection.query(
            "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1",
            ["SELECT $1::int + 1 AS next"]
        )
        #expect(try prepared.first?.int("n") == 1)
    }

    @Test("a transaction commits on return and rolls back on a throw")
    func transactions() async throws {
        let connection = try await self.connect()
        try connection.execute(script: "CREATE TEMP TABLE t (n int)")
        _ = try connection.transaction { try $0.query("INSERT INTO t VALUES (1)") }
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try connection.transaction { connection in
                try connection.query("INSERT INTO t VALUES (2)")
                throw Abort()
            }
        }
        #expect(try connection.query("SELECT n FROM t").rows.map { $0["n"] } == ["1"])
        #expect(!connection.isInTransaction)
    }

    @Test("a serialization failure runs the transaction again, and a lasting one gives up")
    func serializationRetry() async throws {
        let connection = try await self.connect()
        var runs = 0
        let value = try connection.transaction { connection -> Int in
            runs += 1
            if runs < 3 {
                try connection.execute(script: "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
            }
            return runs
        }
        #expect(value == 3)

        runs = 0
        let error = #expect(throws: StoreError.self) {
            try connection.transaction { connection in
                runs += 1
                try connection.execute(script: "DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$")
            }
        }
        #expect(error?.sqlState == "40P01")
        #expect(runs == 5)
    }

    @Test("the tenant setting lasts until the transaction ends, never longer")
    func tenantIsTransactionLocal() async throws {
        let connection = try await self.connect()
        let inside = try connection.transaction { connection in
            try connection.setTenant("acme")
            return try connection.query("SELECT current_setting('gnomon.tenant_id', true) AS t").first?["t"]
        }
        #expect(inside == "acme")
        let after = try connection.query("SELECT current_setting('gnomon.tenant_id', true) AS t").first?["t"]
        #expect(after == nil || after == "")
    }

    @Test("TLS options reach libpq: requiring TLS from a server without it fails to connect")
    func tlsOptionsApplied() async throws {
        let endpoint = try await TestPostgres.shared()
        let tcp = try #require(endpoint.tcpConnectionString)
        #expect(try PostgresConnection(connectionString: tcp).isHealthy)
        let error = #expect(throws: StoreError.self) {
            try PostgresConnection(connectionString: tcp, tls: PostgresTLSOptions(mode: "require"))
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("SSL") == true)
    }

    @Test("a notification reaches a listening connection")
    func listenNotify() async throws {
        let listener = try await self.connect()
        let sender = try await self.connect()
        try listener.listen("gnomon_test_channel")
        #expect(try listener.notifications().isEmpty)
        try sender.notify("gnomon_test_channel", payload: "shard-3")
        let received = try listener.notifications(waitingUpTo: .seconds(5))
        #expect(received.map(\.payload) == ["shard-3"])
        #expect(received.first?.channel == "gnomon_test_channel")
        #expect(received.first?.senderPID == sender.backendPID)
    }

    @Test("a pipeline sends many statements in one round trip, and a failure undoes all of them")
    func pipeline() async throws {
        let connection = try await self.connect()
        try connection.execute(script: "CREATE TEMP TABLE p (n int PRIMARY KEY)")
        let inserts = (1...100).map { PostgresStatement("INSERT INTO p VALUES ($1)", [$0]) }
        let results = try connection.pipeline(inserts)
        #expect(results.count == 100)
        #expect(results.allSatisfy { $0.affectedRows == 1 })

        let clashing = [PostgresStatement("INSERT INTO p VALUES (101)"), PostgresStatement("INSERT INTO p VALUES (1)")]
        let error = #expect(throws: StoreError.self) {
            try connection.pipeline(clashing + [PostgresStatement("INSERT INTO p VALUES (102)")])
        }
        #expect(error?.sqlState == "23505")
        #expect(try connection.query("SELECT count(*) AS n FROM p").first?.int("n") == 100)
    }

    @Test("a statement run at commit runs after the body, goes with a rollback, and its failure undoes the rest")
    func runAtCommit() async throws {
        let connection = try await self.connect()
        try connection.execute(script: "CREATE TEMP TABLE c (n int PRIMARY KEY)")
        func rows() throws -> [String?] {
            try connection.query("SELECT n FROM c ORDER BY n").rows.map { $0["n"] }
        }

        // Queued, it has not run by the end of the body; the commit runs it.
        let seenInBody = try connection.transaction { connection in
            try connection.runAtCommit("INSERT INTO c VALUES ($1)", [2])
            try connection.query("INSERT INTO c VALUES (1)")
            return try connection.query("SELECT count(*) AS n FROM c").first?.int("n")
        }
        #expect(seenInBody == 1)
        #expect(try rows() == ["1", "2"])

        // A body that throws takes its queued statement with it, also out of the next transaction.
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try connection.transaction { connection in
                try connection.runAtCommit("INSERT INTO c VALUES (3)")
                throw Abort()
            }
        }
        try connection.transaction { try $0.query("INSERT INTO c VALUES (4)") }
        #expect(try rows() == ["1", "2", "4"])

        // A queued statement that fails rolls the whole transaction back, and says why.
        let error = #expect(throws: StoreError.self) {
            try connection.transaction { connection in
                try connection.query("INSERT INTO c VALUES (5)")
                try connection.runAtCommit("INSERT INTO c VALUES (1)")
            }
        }
        #expect(error?.sqlState == "23505")
        #expect(!connection.isInTransaction)
        #expect(try rows() == ["1", "2", "4"])

        // Outside a transaction it runs at once.
        try connection.runAtCommit("INSERT INTO c VALUES (6)")
        #expect(try rows() == ["1", "2", "4", "6"])
    }
}

@Suite("PostgreSQL pool")
struct PostgresPoolTests {
    @Test("the pool never opens more connections than allowed and serves every borrower")
    func bounded() async throws {
        let endpoint = try await TestPostgres.shared()
        let pool = PostgresPool(connectionString: endpoint.socketConnectionString, maximumConnections: 2)
        let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await pool.withConnection { connection in
                        try connection.query("SELECT pg_sleep(0.01)")
                        return connection.backendPID
                    }
                }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(pids.count <= 2)
        #expect(!pids.isEmpty)
        await pool.shutdown()
    }

    @Test("work runs on the pool's own threads, never on Swift's cooperative pool")
    func dedicatedThreads() async throws {
        let endpoint = try await TestPostgres.shared()
        let pool = PostgresPool(connectionString: endpoint.socketConnectionString, maximumConnections: 1)
        let name = try await pool.withConnection { _ in ConnectionThread.currentName }
        #expect(name?.hasPrefix("gnomon-postgres-") == true)
        #expect(ConnectionThread.currentName == nil)
        await pool.shutdown()
    }

    @Test("a connection whose server process died is replaced before the next borrower")
    func replacesBrokenConnection() async throws {
        let endpoint = try await TestPostgres.shared()
        let pool = PostgresPool(connectionString: endpoint.socketConnectionString, maximumConnections: 1)
        let first = try await pool.withConnection { $0.backendPID }
        let killer = try PostgresConnection(connectionString: endpoint.socketConnectionString)
        try killer.query("SELECT pg_terminate_backend($1)", [first])
        try await Task.sleep(for: .milliseconds(100))

        // The borrower that finds the connection dead fails; the pool then replaces it.
        _ = try? await pool.withConnection { try $0.query("SELECT 1") }
        let second = try await pool.withConnection { connection in
            try connection.query("SELECT 1")
            return connection.backendPID
        }
        #expect(second != first)
        await pool.shutdown()
    }

    @Test("after shutdown, borrowing fails with poolClosed")
    func shutdown() async throws {
        let endpoint = try await TestPostgres.shared()
        let pool = PostgresPool(connectionString: endpoint.socketConnectionString)
        await pool.shutdown()
        let error = await #expect(throws: StoreError.self) {
            try await pool.withConnection { _ in 1 }
        }
        #expect(error?.code == .poolClosed)
    }
}
