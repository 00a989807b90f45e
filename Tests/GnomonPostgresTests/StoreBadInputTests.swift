import Foundation
import GnomonStore
import GnomonTestSupport
import Testing

/// Hostile and awkward input: stored exactly, or refused with a clear error, never spliced.
@Suite("Store bad input")
struct StoreBadInputTests {
    private func insertAndRead(_ job: NewJob) async throws -> PostgresRow {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try connection.execute(script: "INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme')")
                let store = try JobStore.load(on: connection)
                let id = try store.insert([job], tenantID: "acme", on: connection)[0].id
                return try #require(
                    try connection.query(
                        "SELECT payload #>> '{}' AS text_value, payload, labels FROM gnomon_jobs WHERE id = $1",
                        [id]
                    ).first
                )
            }
        }
    }

    @Test(
        "string values in payloads come back exactly",
        arguments: [
            "'); DROP TABLE gnomon_jobs; --", "\\\"quoted\\\" and \\\\", String(repeating: "ü", count: 5_000_000),
        ]
    )
    func payloadStrings(value: String) async throws {
        let json = String(decoding: try JSONEncoder().encode([value]), as: UTF8.self)
        let row = try await self.insertAndRead(NewJob(queue: "q", payloadJSON: json))
        let stored = try JSONDecoder().decode([String].self, from: Data(try row.string("payload").utf8))
        #expect(stored == [value])
    }

    @Test("label keys and values with quotes and brackets are stored exactly")
    func awkwardLabels() async throws {
        let labels = [#"we"ird'key"#: #"va{l}ue\"#, "ключ": "значение", "": "empty key"]
        let row = try await self.insertAndRead(NewJob(queue: "q", labels: labels))
        let stored = try JSONDecoder().decode([String: String].self, from: Data(try row.string("labels").utf8))
        #expect(stored == labels)
    }

    @Test(
        "payloads that are not JSON, or that PostgreSQL cannot hold, are refused and nothing is written",
        arguments: [
            ("{not json", "22P02"),
            (#"{"a": "\u0000"}"#, "22P05"),
        ]
    )
    func refusedPayloads(payload: String, sqlState: String) async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                let store = try JobStore.load(on: connection)
                let error = #expect(throws: StoreError.self) {
                    try store.insert(
                        [NewJob(queue: "q"), NewJob(queue: "q", payloadJSON: payload)], tenantID: "acme", on: connection
                    )
                }
                #expect(error?.sqlState == sqlState)
                #expect(try connection.query("SELECT count(*) AS n FROM gnomon_jobs").first?.int("n") == 0)
            }
        }
    }

    @Test("a payload holding a NUL byte is refused before it is sent")
    func nulByte() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                let store = try JobStore.load(on: connection)
                let error = #expect(throws: StoreError.self) {
                    try store.insert([NewJob(queue: "q", payloadJSON: "\"a\u{0}b\"")], tenantID: "acme", on: connection)
                }
                #expect(error?.code == .invalidParameter)
            }
        }
    }

    @Test("with log_statement=all, no input value ever appears in statement text")
    func valuesNeverInStatementText() async throws {
        let marker = "sentinel" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try connection.execute(script: "INSERT INTO gnomon_tenants (tenant_id) VALUES ('acme')")
                try connection.execute(script: "SET log_statement = 'all'")
                let store = try JobStore.load(on: connection)
                let job = NewJob(
                    queue: "q",
                    jobType: marker + "type",
                    payloadJSON: "{\"v\": \"\(marker)payload\"}",
                    labels: [marker + "key": marker + "value"],
                    idempotencyKey: marker + "key",
                    traceparent: marker + "trace"
                )
                let inserted = try store.insert([job, job], tenantID: "acme", on: connection)
                let lease = try #require(
                    try ShardLeaseStore.acquire(
                        shard: inserted[0].shard, node: marker, duration: .seconds(30), on: connection)
                )
                for claimed in try store.claim(shard: lease, node: marker, limit: 100, worker: marker, on: connection) {
                    _ = try store.fail(
                        jobID: claimed.id,
                        shard: claimed.shard,
                        leaseToken: claimed.leaseToken,
                        errorMessage: marker + "error",
                        on: connection
                    )
                }
                try connection.execute(script: "RESET log_statement")
            }
        }

        let endpoint = try await TestPostgres.shared()
        let log = try await TestDatabase.onThread {
            let connection = try PostgresConnection(connectionString: endpoint.socketConnectionString)
            let directory = try connection.query("SHOW data_directory").first?[0] ?? ""
            return try String(contentsOfFile: directory + "/gnomon-postgres.log", encoding: .utf8)
        }
        let lines = log.split(separator: "\n").filter { $0.contains("gnomon_jobs") || $0.contains(marker) }
        let statements = lines.filter { !$0.contains("DETAIL:  parameters:") && !$0.contains("DETAIL:  Key") }
        let parameters = lines.filter { $0.contains("DETAIL:  parameters:") }
        #expect(statements.contains { $0.contains("gnomon_jobs") }, "statements were not logged")
        #expect(parameters.contains { $0.contains(marker) }, "the values were not seen as parameters")
        #expect(!statements.contains { $0.contains(marker) })
    }
}
