import Foundation

/// Appends to and reads the audit log, which is append-only for every role.
///
/// A call that changes something appends its record in the same transaction as the change,
/// so the record exists exactly when the change does. A call that was refused, or whose
/// transaction rolled back, appends in a transaction of its own with
/// ``append(_:using:)``: a record appended in a transaction that rolls back is gone with it.
///
/// Tenant records are written and read in the tenant's transaction, as `gnomon_app`, where
/// row-level security shows only that tenant's records. Records without a tenant, and the
/// list of every tenant's records, need a platform transaction, as `gnomon_scheduler`.
public enum AuditStore {
    /// The most entries one page of ``list(_:after:limit:on:)`` holds.
    public static let maximumPageSize = 1_000

    /// Appends a record, stamped with the database's clock, in the caller's transaction.
    ///
    /// - Parameters:
    ///   - record: The call; text over its limit is cut (see ``AuditRecord/sanitized``).
    ///   - connection: The transaction of the change recorded: the record's tenant's, or a
    ///     platform one, which records without a tenant need.
    /// - Returns: The entry as stored.
    /// - Throws: ``StoreError`` with code `invalidArgument` for a tenant id that no tenant can
    ///   have (record such calls with no tenant), `insufficientPrivilege` in a transaction of
    ///   another tenant, or in a tenant's for a record without one, `partitionMissing` when
    ///   partition upkeep has not run for months.
    @discardableResult
    public static func append(_ record: AuditRecord, on connection: PostgresConnection) throws -> AuditEntry {
        try Self.check(record)
        let record = record.sanitized
        let row: PostgresRow?
        do {
            row = try connection.query(
                Self.insertSQL + " RETURNING id, (extract(epoch FROM at) * 1000000)::bigint AS at_us",
                Self.parameters(record)
            ).first
        } catch let error as StoreError {
            throw self.explainAppendFailure(error, tenantID: record.tenantID)
        }
        guard let row else {
            throw StoreError(.unexpectedValue, "appending an audit record returned no row")
        }
        let (id, micros) = (try Self.uuid(row, "id"), try row.int64("at_us"))
        return AuditEntry(
            id: id,
            at: try row.date(microseconds: "at_us"),
            record: record,
            cursor: AuditCursor(atMicroseconds: micros, id: id)
        )
    }

    /// Appends a record when the caller's transaction commits, in the round trip of its
    /// `COMMIT` (``PostgresConnection/runAtCommit(_:_:)``): written with the change it records,
    /// or not at all, at no round trip of its own.
    ///
    /// - Throws: ``StoreError`` with code `invalidArgument` for a record that cannot be
    ///   stored. The insert's own failures (another tenant's record, a missing partition)
    ///   surface from the commit as PostgreSQL reports them, and roll the change back.
    public static func appendAtCommit(_ record: AuditRecord, on connection: PostgresConnection) throws {
        try Self.check(record)
        let record = record.sanitized
        try connection.runAtCommit(Self.insertSQL, Self.parameters(record))
    }

    private static let insertSQL = """
        INSERT INTO gnomon_audit_log (
            tenant_id, actor, roles, method, resource_type, resource_id, outcome, status_code,
            request_id, client_address, at
        ) VALUES ($1, $2, $3::text[], $4, $5, $6, $7, $8, $9, $10, clock_timestamp())
        """

    private static func parameters(_ record: AuditRecord) -> [any PostgresBindable] {
        [
            record.tenantID, record.actor, PostgresArray.literal(record.roles), record.method,
            record.resourceType, record.resourceID, record.outcome.rawValue, record.statusCode,
            record.requestID, record.clientAddress,
        ]
    }

    private static func check(_ record: AuditRecord) throws {
        if let tenantID = record.tenantID, !TenantStore.isValidID(tenantID) {
            throw StoreError(
                .invalidArgument,
                "an audit record's tenant must be a valid tenant id, not '\(tenantID)'; record a call that named no "
                    + "valid tenant with no tenant"
            )
        }
        guard (0...Int(Int32.max)).contains(record.statusCode) else {
            throw StoreError(
                .invalidArgument,
                "an audit record's status code is \(record.statusCode); expected 0 (OK) or a positive status code"
            )
        }
    }

    /// Appends a record in a transaction of its own, in the role its tenant calls for.
    ///
    /// For calls that were refused or failed, whose own transaction, if any, rolled back: the
    /// record is written as `gnomon_app` for its tenant, or as `gnomon_scheduler` when it has
    /// none.
    ///
    /// - Returns: The entry as stored.
    /// - Throws: What ``append(_:on:)`` throws.
    @discardableResult
    public static func append(_ record: AuditRecord, using pool: PostgresPool) async throws -> AuditEntry {
        if let tenantID = record.tenantID {
            return try await pool.withTenantTransaction(tenantID) { try self.append(record, on: $0) }
        }
        return try await pool.withPlatformTransaction { try self.append(record, on: $0) }
    }

    /// Lists audit entries newest first, a page at a time.
    ///
    /// Pages are keyed on each entry's time and id, so a page's entries never appear again on
    /// a later page, however many are appended meanwhile.
    ///
    /// - Parameters:
    ///   - filter: Which records to list.
    ///   - after: The cursor the previous page ended with; `nil` for the first page.
    ///   - limit: The most entries to return, 1 to ``maximumPageSize``.
    ///   - connection: A tenant's transaction, which sees that tenant's records, or a
    ///     platform one, which sees all.
    /// - Returns: The entries, and the cursor to pass as `after` for the next page, `nil`
    ///   after the last page.
    /// - Throws: ``StoreError`` with code `invalidArgument` for a limit out of range.
    public static func list(
        _ filter: AuditFilter = AuditFilter(),
        after: AuditCursor? = nil,
        limit: Int = 100,
        on connection: PostgresConnection
    ) throws -> (entries: [AuditEntry], next: AuditCursor?) {
        guard (1...self.maximumPageSize).contains(limit) else {
            throw StoreError(
                .invalidArgument, "page size \(limit) is out of range; expected 1 to \(self.maximumPageSize)")
        }
        let rows: [PostgresRow]
        do {
            rows = try connection.query(
                Self.listSQL,
                [
                    filter.tenantID, filter.actor, filter.method, filter.outcome?.rawValue, filter.resourceID,
                    filter.from, filter.before,
                    after.map { PostgresTimestamp.text(microsecondsSinceEpoch: $0.atMicroseconds) }, after?.id,
                    limit + 1,
                ]
            ).rows
        } catch let error as StoreError {
            throw error.explainingPrivilege("listing audit records", needs: TransactionKind.either)
        }
        let entries = try rows.prefix(limit).map { try Self.entry(from: $0) }
        return (entries, rows.count > limit ? entries.last?.cursor : nil)
    }

    private static func explainAppendFailure(_ error: StoreError, tenantID: String?) -> StoreError {
        if error.sqlState == "23514", error.message.contains("no partition") {
            return StoreError(
                .partitionMissing,
                "the audit log has no partition for this month: partition upkeep (PartitionUpkeep.run) has not run "
                    + "for longer than it creates months ahead; run it, as a platform transaction may",
                underlying: error,
                sqlState: error.sqlState
            )
        }
        let action =
            tenantID.map { "appending an audit record for tenant '\($0)'" }
            ?? "appending an audit record without a tenant"
        let needed = tenantID == nil ? TransactionKind.platform : TransactionKind.either
        return error.explainingPrivilege(action, needs: needed)
    }

    private static let listSQL = """
        SELECT id, tenant_id, actor, array_to_json(roles)::text AS roles, method, resource_type,
            resource_id, outcome, status_code, request_id, client_address,
            (extract(epoch FROM at) * 1000000)::bigint AS at_us
        FROM gnomon_audit_log
        WHERE ($1::text IS NULL OR tenant_id = $1::text)
            AND ($2::text IS NULL OR actor = $2::text)
            AND ($3::text IS NULL OR method = $3::text)
            AND ($4::text IS NULL OR outcome = $4::text)
            AND ($5::text IS NULL OR resource_id = $5::text)
            AND ($6::timestamptz IS NULL OR at >= $6::timestamptz)
            AND ($7::timestamptz IS NULL OR at < $7::timestamptz)
            AND ($8::timestamptz IS NULL OR (at, id) < ($8::timestamptz, $9::uuid))
        ORDER BY at DESC, id DESC
        LIMIT $10
        """

    private static func entry(from row: PostgresRow) throws -> AuditEntry {
        let outcomeText = try row.string("outcome")
        guard let outcome = AuditOutcome(rawValue: outcomeText) else {
            throw StoreError(.unexpectedValue, "column 'outcome' holds '\(outcomeText)'; expected an audit outcome")
        }
        let roles = try JSONDecoder().decode([String].self, from: Data(try row.string("roles").utf8))
        let id = try Self.uuid(row, "id")
        let micros = try row.int64("at_us")
        let record = AuditRecord(
            tenantID: row["tenant_id"],
            actor: try row.string("actor"),
            roles: roles,
            method: try row.string("method"),
            resourceType: try row.string("resource_type"),
            resourceID: try row.string("resource_id"),
            outcome: outcome,
            statusCode: try row.int("status_code"),
            requestID: try row.string("request_id"),
            clientAddress: try row.string("client_address")
        )
        return AuditEntry(
            id: id,
            at: try row.date(microseconds: "at_us"),
            record: record,
            cursor: AuditCursor(atMicroseconds: micros, id: id)
        )
    }

    private static func uuid(_ row: PostgresRow, _ column: String) throws -> UUID {
        let text = try row.string(column)
        guard let id = UUID(uuidString: text) else {
            throw StoreError(.unexpectedValue, "column '\(column)' holds '\(text)'; expected a UUID")
        }
        return id
    }
}
