import CLibPQ
import Foundation
import GnomonStore

/// The claim and complete statements driven through libpq with nothing in between.
///
/// This is the ceiling ``StoreClaimLoop`` is measured against: each statement is prepared
/// once, parameters go as text, and only the `id` and `lease_token` columns are read. Not
/// `Sendable`: the connection belongs to the thread that made it.
final class RawClaimLoop: ClaimCompleteLoop {
    private let connection: OpaquePointer
    private let node: String

    var name: String { "raw libpq" }

    /// Connects and prepares the two statements.
    ///
    /// - Throws: ``BenchError`` when the connection or a statement fails.
    init(connectionString: String, node: String) throws {
        guard let connection = PQconnectdb(connectionString) else {
            throw BenchError("libpq could not allocate a connection")
        }
        self.connection = connection
        self.node = node
        guard PQstatus(connection) == CONNECTION_OK else {
            throw BenchError("could not connect: \(self.lastError)")
        }
        try self.prepare("claim", RawStatements.claim, parameterCount: 6)
        try self.prepare("complete", RawStatements.complete, parameterCount: 4)
    }

    deinit {
        PQfinish(self.connection)
    }

    func claimAndComplete(lease: ShardLease, limit: Int) throws -> Int {
        let shard = String(lease.shard)
        let claimed = try self.claim(shard: shard, epoch: String(lease.epoch), limit: String(limit))
        var completed = 0
        for (id, token) in claimed {
            completed += try self.complete(shard: shard, id: id, token: token)
        }
        return completed
    }

    private func claim(shard: String, epoch: String, limit: String) throws -> [(String, String)] {
        let result = try self.execute("claim", [shard, epoch, self.node, limit, nil, BenchNames.worker])
        defer { PQclear(result) }
        let idColumn = PQfnumber(result, "id")
        let tokenColumn = PQfnumber(result, "lease_token")
        return (0..<PQntuples(result)).map { row in
            (String(cString: PQgetvalue(result, row, idColumn)), String(cString: PQgetvalue(result, row, tokenColumn)))
        }
    }

    private func complete(shard: String, id: String, token: String) throws -> Int {
        let result = try self.execute("complete", [shard, id, token, nil])
        defer { PQclear(result) }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// Runs a prepared statement with text parameters; the caller clears the result.
    private func execute(_ name: String, _ parameters: [String?]) throws -> OpaquePointer {
        let values = parameters.map { $0.flatMap { UnsafePointer(strdup($0)) } }
        defer {
            for value in values {
                free(UnsafeMutablePointer(mutating: value))
            }
        }
        let result = values.withUnsafeBufferPointer { buffer in
            PQexecPrepared(self.connection, name, Int32(buffer.count), buffer.baseAddress, nil, nil, 0)
        }
        return try self.checked(result, statement: name)
    }

    private func prepare(_ name: String, _ sql: String, parameterCount: Int32) throws {
        PQclear(try self.checked(PQprepare(self.connection, name, sql, parameterCount, nil), statement: name))
    }

    private func checked(_ result: OpaquePointer?, statement: String) throws -> OpaquePointer {
        guard let result else {
            throw BenchError("the \(statement) statement got no answer: \(self.lastError)")
        }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let message = String(cString: PQresultErrorMessage(result))
            PQclear(result)
            throw BenchError("the \(statement) statement failed: \(message)")
        }
        return result
    }

    private var lastError: String {
        String(cString: PQerrorMessage(self.connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
