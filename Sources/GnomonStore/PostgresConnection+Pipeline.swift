import CLibPQ

/// One statement of a pipeline: SQL with `$n` placeholders and its parameters.
public struct PostgresStatement {
    public var sql: String
    public var parameters: [any PostgresBindable]

    /// Creates a statement.
    public init(_ sql: String, _ parameters: [any PostgresBindable] = []) {
        self.sql = sql
        self.parameters = parameters
    }
}

extension PostgresConnection {
    /// Sends every statement at once and then reads every result: one round trip for all.
    ///
    /// Statements run in order in libpq's pipeline mode. Outside a transaction they form one
    /// implicit transaction: all of them commit, or none does.
    ///
    /// - Returns: One result per statement, in order.
    /// - Throws: The first statement's ``StoreError``; statements after a failed one do not run.
    @discardableResult
    public func pipeline(_ statements: [PostgresStatement]) throws -> [PostgresResult] {
        guard !statements.isEmpty else {
            return []
        }
        // Statements with parameters run prepared, like those of query(_:_:), so that their
        // plans can be cached; preparing is a round trip of its own, made once, before the
        // pipeline starts.
        let names = try statements.map { statement in
            statement.parameters.isEmpty
                ? nil : try self.preparedName(for: statement.sql, parameterCount: statement.parameters.count)
        }
        guard PQenterPipelineMode(self.handle) == 1 else {
            throw StoreError(.queryFailed, "could not enter pipeline mode: \(Self.errorMessage(self.handle))")
        }
        defer { PQexitPipelineMode(self.handle) }

        for (statement, name) in zip(statements, names) {
            try self.send(statement, preparedAs: name)
        }
        guard PQpipelineSync(self.handle) == 1 else {
            throw StoreError(.queryFailed, "could not send the pipeline: \(Self.errorMessage(self.handle))")
        }
        return try self.collect(count: statements.count)
    }

    private func send(_ statement: PostgresStatement, preparedAs name: String?) throws {
        let bound = try BoundParameters(statement.parameters.map(\.postgresValue))
        let sent = bound.withPointers { values, lengths, formats in
            if let name {
                return PQsendQueryPrepared(self.handle, name, bound.count, values, lengths, formats, 0)
            }
            return PQsendQueryParams(self.handle, statement.sql, bound.count, nil, values, lengths, formats, 0)
        }
        guard sent == 1 else {
            throw StoreError(.queryFailed, "could not send a statement: \(Self.errorMessage(self.handle))")
        }
    }

    /// Reads `count` results and the final sync, keeping the first failure to throw after the
    /// pipeline is drained, so the connection stays usable.
    private func collect(count: Int) throws -> [PostgresResult] {
        var results: [PostgresResult] = []
        var failure: StoreError?
        for _ in 0..<count {
            while let result = PQgetResult(self.handle) {
                let status = PQresultStatus(result)
                if status == PGRES_PIPELINE_ABORTED {
                    PQclear(result)
                    continue
                }
                do {
                    results.append(try self.consume(result, statement: ""))
                } catch let error as StoreError {
                    failure = failure ?? error
                }
            }
        }
        // The sync result ends the pipeline.
        while let result = PQgetResult(self.handle) {
            let isSync = PQresultStatus(result) == PGRES_PIPELINE_SYNC
            PQclear(result)
            if isSync {
                break
            }
        }
        if let failure {
            throw failure
        }
        return results
    }
}

extension PostgresConnection {
    /// Lets the current transaction commit without waiting for its WAL to reach disk.
    ///
    /// For writes whose loss in a PostgreSQL crash only repeats work that is at-least-once
    /// anyway, such as an attempt's start or end: the transaction's locks are released as
    /// soon as it commits, not after a disk flush. Never use it for a write the caller is told
    /// is durable, such as an accepted submission. Lasts until the transaction ends.
    public func commitWithoutFlushWait() throws {
        // The setting is read when the transaction commits: it travels with the COMMIT.
        try self.runAtCommit("SET LOCAL synchronous_commit = off")
    }
}
