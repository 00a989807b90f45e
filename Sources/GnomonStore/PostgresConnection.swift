import CLibPQ
import Foundation

/// How a transaction is isolated from concurrent ones.
public enum PostgresIsolation: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

/// TLS settings for a connection, added to whatever the connection string says.
public struct PostgresTLSOptions: Sendable, Hashable {
    /// libpq's `sslmode`: `disable`, `prefer`, `require`, `verify-ca` or `verify-full`.
    public var mode: String
    /// A PEM file of certificate authorities to verify the server against.
    public var rootCertificateFile: String?
    /// A client certificate and its key, for servers that require them.
    public var certificateFile: String?
    public var keyFile: String?

    /// Creates TLS settings; `verify-full` checks both the certificate chain and the host name.
    public init(
        mode: String = "verify-full",
        rootCertificateFile: String? = nil,
        certificateFile: String? = nil,
        keyFile: String? = nil
    ) {
        self.mode = mode
        self.rootCertificateFile = rootCertificateFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    var keywords: [(String, String)] {
        var pairs = [("sslmode", self.mode)]
        if let file = self.rootCertificateFile {
            pairs.append(("sslrootcert", file))
        }
        if let file = self.certificateFile {
            pairs.append(("sslcert", file))
        }
        if let file = self.keyFile {
            pairs.append(("sslkey", file))
        }
        return pairs
    }
}

/// One blocking libpq connection.
///
/// Not `Sendable`: a connection is used by one thread at a time, and its calls block that
/// thread, so it must never be used from Swift's cooperative pool; ``PostgresPool`` runs each
/// connection on a thread of its own. Every value reaches the server as a bound parameter,
/// never spliced into SQL text, and statements are prepared once per connection.
public final class PostgresConnection {
    let handle: OpaquePointer
    private var statements: [String: String] = [:]
    /// Statements queued by ``runAtCommit(_:_:)`` for the end of the current transaction.
    private var commitStatements: [PostgresStatement] = []
    static let statementCacheLimit = 512

    /// Connects, then sets the session to UTC and ISO dates so text values read alike everywhere,
    /// and lets PostgreSQL choose between a cached and a fresh plan for each prepared statement.
    ///
    /// - Parameters:
    ///   - connectionString: A libpq URL or key=value string; never logged, as it may hold a password.
    ///   - tls: TLS settings that override those of the connection string.
    /// - Throws: ``StoreError`` with code `connectionFailed`.
    public init(connectionString: String, tls: PostgresTLSOptions? = nil) throws {
        let pairs = [("dbname", connectionString), ("client_encoding", "UTF8")] + (tls?.keywords ?? [])
        let keywords = pairs.map { strdup($0.0) } + [nil]
        let values = pairs.map { strdup($0.1) } + [nil]
        defer {
            for word in keywords + values {
                free(word)
            }
        }
        let handle = keywords.withUnsafeBufferPointer { keys in
            values.withUnsafeBufferPointer { vals in
                PQconnectdbParams(
                    UnsafeRawPointer(keys.baseAddress!).assumingMemoryBound(to: UnsafePointer<CChar>?.self),
                    UnsafeRawPointer(vals.baseAddress!).assumingMemoryBound(to: UnsafePointer<CChar>?.self),
                    1
                )
            }
        }
        guard let handle else {
            throw StoreError(.connectionFailed, "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = Self.errorMessage(handle)
            PQfinish(handle)
            throw StoreError(.connectionFailed, "could not connect to PostgreSQL: \(reason)")
        }
        self.handle = handle
        // The default plan cache mode, on purpose: PostgreSQL keeps planning a statement that
        // names one shard afresh (its generic plan, over every partition, costs more, and on
        // PostgreSQL 15 would lock every partition), and caches the plan of one that spans the
        // shards anyway when it is no worse, as for the claim: forced custom, its planning cost
        // up to 8 ms a call, as the planner probes the ends of the due-time indexes that the
        // jobs deleted on completion leave full of dead entries. The next due time always runs
        // its generic plan (queryWithGenericPlan). docs/benchmarks.md has the measurements.
        try self.execute(
            script: "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET plan_cache_mode = \(Self.planCacheMode)")
    }

    deinit {
        PQfinish(self.handle)
    }

    /// Whether the connection is still usable.
    public var isHealthy: Bool {
        PQstatus(self.handle) == CONNECTION_OK
    }

    /// Whether a transaction is open on this connection.
    public var isInTransaction: Bool {
        PQtransactionStatus(self.handle) != PQTRANS_IDLE
    }

    /// The server's process id for this connection, as `pg_stat_activity` shows it.
    public var backendPID: Int32 {
        PQbackendPID(self.handle)
    }

    /// Runs one statement with bound parameters, preparing it on first use.
    ///
    /// - Parameters:
    ///   - sql: The statement, with `$1`, `$2`… for the parameters.
    ///   - parameters: The values, bound in order.
    /// - Returns: The rows and the affected row count.
    /// - Throws: ``StoreError`` with code `queryFailed` and the server's SQLSTATE.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = []) throws -> PostgresResult {
        let name = try self.preparedName(for: sql, parameterCount: parameters.count)
        let bound = try BoundParameters(parameters.map(\.postgresValue))
        let result = bound.withPointers { values, lengths, formats in
            if let name {
                return PQexecPrepared(self.handle, name, bound.count, values, lengths, formats, 0)
            }
            return PQexecParams(self.handle, sql, bound.count, nil, values, lengths, formats, 0)
        }
        return try self.consume(result, statement: sql)
    }

    /// Runs one statement as ``query(_:_:)`` does, with its cached generic plan, in one round
    /// trip.
    ///
    /// For statements that span every shard and whose best plan does not depend on the
    /// values, such as the next due time of a tenant's queues: PostgreSQL's own choice kept
    /// planning it afresh, at up to 13 ms a call over every partition. The plan mode is
    /// switched for the statement alone, in a pipeline inside the current transaction (or the
    /// pipeline's own).
    @discardableResult
    public func queryWithGenericPlan(_ sql: String, _ parameters: [any PostgresBindable] = []) throws
        -> PostgresResult
    {
        let results = try self.pipeline([
            PostgresStatement("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"),
            PostgresStatement(sql, parameters),
            PostgresStatement("SELECT set_config('plan_cache_mode', $1, true)", [Self.planCacheMode]),
        ])
        return results[1]
    }

    /// The plan cache mode every connection keeps; see ``init(connectionString:tls:)``.
    static let planCacheMode = "auto"

    /// Runs several statements without parameters through the simple-query protocol.
    ///
    /// For migrations and session settings only; values always go through ``query(_:_:)``.
    public func execute(script: String) throws {
        let result = PQexec(self.handle, script)
        _ = try self.consume(result, statement: script)
    }

    /// Runs `body` in a transaction, committing when it returns and rolling back when it throws.
    ///
    /// A serialization failure or deadlock (SQLSTATE 40001, 40P01) rolls back and runs `body`
    /// again, up to five times in all, since the server asks for exactly that. Inside an open
    /// transaction, `body` simply runs in it.
    public func transaction<T>(
        isolation: PostgresIsolation = .readCommitted,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        try self.transaction(isolation: isolation, prologue: "", role: nil, body)
    }

    /// Runs `body` in a transaction as `role`, scoped to `tenantID` when there is one: the
    /// `BEGIN`, the role and the tenant reach the server together, in one round trip.
    ///
    /// - Throws: What `body` throws; ``StoreError`` with code `insufficientPrivilege` when the
    ///   login role cannot switch to `role`.
    func transaction<T>(
        asRole role: String,
        tenantID: String?,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        guard !self.isInTransaction else {
            try self.setLocalRole(role)
            if let tenantID {
                try self.setTenant(tenantID)
            }
            return try body(self)
        }
        var prologue = "; SET LOCAL ROLE \(try self.quotedIdentifier(role))"
        if let tenantID {
            prologue += "; SELECT set_config('gnomon.tenant_id', \(try self.quotedLiteral(tenantID)), true)"
        }
        return try self.transaction(isolation: .readCommitted, prologue: prologue, role: role, body)
    }

    /// `prologue` runs right after `BEGIN`, in its round trip; a refusal there to switch to
    /// `role` is reported as such, while the same SQLSTATE from `body` (row-level security)
    /// passes through unchanged.
    private func transaction<T>(
        isolation: PostgresIsolation,
        prologue: String,
        role: String?,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        if self.isInTransaction {
            return try body(self)
        }
        var attempt = 1
        while true {
            self.commitStatements.removeAll()
            do {
                do {
                    try self.execute(script: "BEGIN ISOLATION LEVEL \(isolation.rawValue)\(prologue)")
                } catch let error as StoreError where role != nil && Self.isRoleRefusal(error) {
                    throw Self.roleRefused(role ?? "", error)
                }
                let value = try body(self)
                try self.commit()
                return value
            } catch let error as StoreError where Self.isRetryable(error) && attempt < 5 {
                self.rollBackQuietly()
                attempt += 1
                usleep(UInt32.random(in: 1_000...(5_000 * UInt32(attempt))))
            } catch {
                self.rollBackQuietly()
                throw error
            }
        }
    }

    /// Scopes row-level security to a tenant until the current transaction ends.
    ///
    /// The setting is transaction-local, so a pooled connection never carries a tenant into
    /// its next use.
    public func setTenant(_ tenantID: String) throws {
        try self.query("SELECT set_config('gnomon.tenant_id', $1, true)", [tenantID])
    }

    /// Switches to `role` until the current transaction ends.
    ///
    /// - Throws: ``StoreError`` with code `insufficientPrivilege` when the login role is not a
    ///   member of `role`.
    func setLocalRole(_ role: String) throws {
        do {
            try self.execute(script: "SET LOCAL ROLE \(try self.quotedIdentifier(role))")
        } catch let error as StoreError where Self.isRoleRefusal(error) {
            throw Self.roleRefused(role, error)
        }
    }

    private static func isRoleRefusal(_ error: StoreError) -> Bool {
        error.sqlState == "42501" || error.sqlState == "22023"
    }

    private static func roleRefused(_ role: String, _ error: StoreError) -> StoreError {
        StoreError(
            .insufficientPrivilege,
            "the connection's login role cannot switch to \(role): grant it with GRANT \(role) TO <login role>, "
                + "as the migrations do for the role that runs them",
            underlying: error,
            sqlState: error.sqlState
        )
    }

    /// Quotes a value as an SQL string literal, for the few statements sent as plain text.
    func quotedLiteral(_ value: String) throws -> String {
        guard let quoted = PQescapeLiteral(self.handle, value, value.utf8.count) else {
            throw StoreError(.queryFailed, "libpq could not quote the value: \(Self.errorMessage(self.handle))")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Quotes a name as an SQL identifier; for names such as channels, never for values.
    public func quotedIdentifier(_ name: String) throws -> String {
        guard let quoted = PQescapeIdentifier(self.handle, name, name.utf8.count) else {
            throw StoreError(.queryFailed, "libpq could not quote the name: \(Self.errorMessage(self.handle))")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    static func isRetryable(_ error: StoreError) -> Bool {
        error.sqlState == "40001" || error.sqlState == "40P01"
    }

    /// Queues a statement to run when the current transaction commits, in the same round trip
    /// as its `COMMIT`; outside a transaction it runs at once.
    ///
    /// For an update of a row that many transactions need, such as a tenant's usage counts:
    /// its lock is then held for the server's time to run the statement and commit, never
    /// for a round trip to this process. The statement runs after everything the transaction
    /// body sent, and its failure rolls the transaction back like any other.
    public func runAtCommit(_ sql: String, _ parameters: [any PostgresBindable] = []) throws {
        guard self.isInTransaction else {
            try self.query(sql, parameters)
            return
        }
        self.commitStatements.append(PostgresStatement(sql, parameters))
    }

    private func commit() throws {
        let statements = self.commitStatements
        self.commitStatements.removeAll()
        if statements.isEmpty {
            try self.execute(script: "COMMIT")
        } else {
            try self.pipeline(statements + [PostgresStatement("COMMIT")])
        }
    }

    private func rollBackQuietly() {
        self.commitStatements.removeAll()
        if self.isInTransaction {
            PQclear(PQexec(self.handle, "ROLLBACK"))
        }
    }

    /// The name of the prepared statement for `sql`, preparing it now if needed; nil once the
    /// cache is full, in which case the statement runs unnamed.
    func preparedName(for sql: String, parameterCount: Int) throws -> String? {
        if let name = self.statements[sql] {
            return name
        }
        guard self.statements.count < Self.statementCacheLimit else {
            return nil
        }
        let name = "gnomon_\(self.statements.count)"
        let result = PQprepare(self.handle, name, sql, Int32(parameterCount), nil)
        _ = try self.consume(result, statement: sql)
        self.statements[sql] = name
        return name
    }

    /// Copies a libpq result out and frees it, turning a failure into a ``StoreError``.
    func consume(_ result: OpaquePointer?, statement: String) throws -> PostgresResult {
        guard let result else {
            throw StoreError(.queryFailed, "PostgreSQL did not answer: \(Self.errorMessage(self.handle))")
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_PIPELINE_SYNC:
            return Self.copy(result)
        default:
            throw Self.error(from: result, connection: self.handle)
        }
    }

    static func error(from result: OpaquePointer, connection: OpaquePointer) -> StoreError {
        let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        var message = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
        if message == nil {
            message = Self.errorMessage(connection)
        }
        return StoreError(.queryFailed, "PostgreSQL refused a statement: \(message ?? "")", sqlState: sqlState)
    }

    private static func copy(_ result: OpaquePointer) -> PostgresResult {
        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        let index = Dictionary(columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let rowCount = Int(PQntuples(result))
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<Int32(columnCount) {
                values.append(PQgetisnull(result, row, column) == 1 ? nil : Self.text(result, row, column))
            }
            rows.append(PostgresRow(values: values, columnIndex: index))
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? rowCount
        return PostgresResult(columns: columns, rows: rows, affectedRows: affected)
    }

    /// A text value, kept whole even when it holds bytes that are not UTF-8.
    private static func text(_ result: OpaquePointer, _ row: Int32, _ column: Int32) -> String {
        let length = Int(PQgetlength(result, row, column))
        let bytes = UnsafeRawBufferPointer(start: PQgetvalue(result, row, column), count: length)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func errorMessage(_ handle: OpaquePointer) -> String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Parameter values laid out as libpq wants them: pointers, lengths and formats.
struct BoundParameters {
    private let storage: [[UInt8]?]
    private let formats: [Int32]

    /// - Throws: ``StoreError`` with code `invalidParameter` for text holding NUL, which
    ///   PostgreSQL's text types cannot store and libpq would silently cut off.
    init(_ values: [PostgresValue]) throws {
        var storage: [[UInt8]?] = []
        var formats: [Int32] = []
        for value in values {
            switch value {
            case .null:
                storage.append(nil)
                formats.append(0)
            case .text(let text):
                let utf8 = Array(text.utf8)
                if utf8.contains(0) {
                    throw StoreError(
                        .invalidParameter,
                        "parameter $\(storage.count + 1) contains a NUL character, which PostgreSQL text "
                            + "cannot store; remove it, or send the value as bytes (bytea)"
                    )
                }
                storage.append(utf8 + [0])
                formats.append(0)
            case .bytes(let bytes):
                storage.append(bytes)
                formats.append(1)
            }
        }
        self.storage = storage
        self.formats = formats
    }

    var count: Int32 { Int32(self.storage.count) }

    func withPointers<T>(
        _ body: (
            UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?
        ) -> T
    ) -> T {
        let copies: [UnsafeMutablePointer<CChar>?] = self.storage.map { bytes in
            guard let bytes else {
                return nil
            }
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBytes {
                UnsafeMutableRawPointer(pointer).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
            }
            return pointer
        }
        defer {
            for copy in copies {
                copy?.deallocate()
            }
        }
        let lengths = self.storage.map { Int32($0?.count ?? 0) }
        let values = copies.map { UnsafePointer($0) }
        return values.withUnsafeBufferPointer { valuePointers in
            lengths.withUnsafeBufferPointer { lengthPointers in
                self.formats.withUnsafeBufferPointer { formatPointers in
                    body(valuePointers.baseAddress, lengthPointers.baseAddress, formatPointers.baseAddress)
                }
            }
        }
    }
}
