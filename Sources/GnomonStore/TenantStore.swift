/// The queries that create, read and change tenants and their quotas.
///
/// Each takes the connection of the caller's transaction, so that the caller can record the
/// change in the audit log in the same transaction. Creating, changing and listing tenants is
/// platform administration: run it in ``PostgresPool/withPlatformTransaction(_:)``. A tenant
/// reading its own row runs in ``PostgresPool/withTenantTransaction(_:_:)`` for itself, where
/// row-level security hides every other tenant.
public enum TenantStore {
    /// The most tenants one page of ``list(state:after:limit:on:)`` holds.
    public static let maximumPageSize = 1_000
    /// The longest display name accepted, in characters.
    public static let maximumDisplayNameLength = 200
    /// The longest reason for disabling a tenant accepted, in characters.
    public static let maximumReasonLength = 1_000

    /// Whether `tenantID` is a possible tenant id, as the schema's `gnomon_tenant_id` checks:
    /// 1 to 63 characters of `a-z`, `0-9` and `-`, starting with a letter.
    public static func isValidID(_ tenantID: String) -> Bool {
        let bytes = Array(tenantID.utf8)
        guard let first = bytes.first, (1...63).contains(bytes.count),
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first)
        else {
            return false
        }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-")
        }
    }

    /// Creates an active tenant, with its usage counters at zero.
    ///
    /// - Parameters:
    ///   - tenantID: 1 to 63 characters of `a-z`, `0-9` and `-`, starting with a letter.
    ///   - displayName: A name for people; at most ``maximumDisplayNameLength`` characters.
    ///   - quotas: The quotas; zero for each deployment default.
    ///   - connection: A platform transaction's connection.
    /// - Returns: The tenant as stored.
    /// - Throws: ``StoreError`` with code `invalidArgument` for a malformed id, display name or
    ///   quota, `alreadyExists` when the id is taken, `insufficientPrivilege` outside a
    ///   platform transaction.
    public static func create(
        tenantID: String,
        displayName: String = "",
        quotas: TenantQuotas = TenantQuotas(),
        on connection: PostgresConnection
    ) throws -> Tenant {
        try self.checkDisplayName(displayName)
        try quotas.validate()
        do {
            try connection.query(
                """
                INSERT INTO gnomon_tenants (
                    tenant_id, display_name, submit_rate_per_second, submit_burst, max_pending_jobs,
                    max_schedules, max_payload_bytes, max_concurrent_runs, max_secrets
                ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """,
                [tenantID, displayName] + self.quotaParameters(quotas)
            )
        } catch let error as StoreError {
            switch error.sqlState {
            case "23505":
                throw StoreError(
                    .alreadyExists,
                    "a tenant with id '\(tenantID)' exists already; choose another id",
                    underlying: error,
                    sqlState: error.sqlState
                )
            case "23514" where error.message.contains("gnomon_tenant_id"):
                throw StoreError(
                    .invalidArgument,
                    "tenant id '\(tenantID)' is not valid: expected 1 to 63 characters of a-z, 0-9 and '-', "
                        + "starting with a letter",
                    underlying: error,
                    sqlState: error.sqlState
                )
            default:
                throw error.explainingPrivilege("creating a tenant", needs: TransactionKind.platform)
            }
        }
        return try self.get(tenantID, on: connection)
    }

    /// Reads a tenant with its quotas as set and its usage counters.
    ///
    /// - Parameters:
    ///   - tenantID: The tenant.
    ///   - connection: A platform transaction's, or the tenant's own transaction's connection.
    /// - Throws: ``StoreError`` with code `notFound` when there is no such tenant or row-level
    ///   security hides it.
    public static func get(_ tenantID: String, on connection: PostgresConnection) throws -> Tenant {
        let row = try connection.query(self.selectSQL + "\nWHERE t.tenant_id = $1::text", [tenantID]).first
        guard let row else {
            throw self.notFound(tenantID)
        }
        return try self.tenant(from: row)
    }

    /// Lists tenants in order of their ids, a page at a time.
    ///
    /// - Parameters:
    ///   - state: Only tenants in this state; `nil` for all.
    ///   - after: The `nextAfter` of the previous page; `nil` for the first page.
    ///   - limit: The most tenants to return, 1 to ``maximumPageSize``.
    ///   - connection: A platform transaction's connection; a tenant's sees only itself.
    /// - Returns: The tenants, and the id to pass as `after` for the next page, `nil` after
    ///   the last page.
    /// - Throws: ``StoreError`` with code `invalidArgument` for a limit out of range.
    public static func list(
        state: TenantState? = nil,
        after: String? = nil,
        limit: Int = 100,
        on connection: PostgresConnection
    ) throws -> (tenants: [Tenant], nextAfter: String?) {
        guard (1...self.maximumPageSize).contains(limit) else {
            throw StoreError(
                .invalidArgument, "page size \(limit) is out of range; expected 1 to \(self.maximumPageSize)")
        }
        let rows = try connection.query(
            """
            \(self.selectSQL)
            WHERE ($1::text IS NULL OR t.state = $1::text) AND ($2::text IS NULL OR t.tenant_id > $2::text)
            ORDER BY t.tenant_id
            LIMIT $3
            """,
            [state?.rawValue, after, limit + 1]
        ).rows
        let tenants = try rows.prefix(limit).map { try self.tenant(from: $0) }
        return (tenants, rows.count > limit ? tenants.last?.id : nil)
    }

    /// Changes a tenant's display name, state, or both; what is `nil` stays as it is.
    ///
    /// Making a tenant active clears the reason it was disabled; ``disable(_:reason:on:)``
    /// disables it with a reason.
    ///
    /// - Parameters:
    ///   - tenantID: The tenant.
    ///   - displayName: The new display name, at most ``maximumDisplayNameLength`` characters.
    ///   - state: The new state.
    ///   - connection: A platform transaction's connection.
    /// - Returns: The tenant as changed.
    /// - Throws: ``StoreError`` with code `invalidArgument` for a display name too long,
    ///   `notFound` when there is no such tenant, `insufficientPrivilege` outside a platform
    ///   transaction.
    public static func update(
        _ tenantID: String,
        displayName: String? = nil,
        state: TenantState? = nil,
        on connection: PostgresConnection
    ) throws -> Tenant {
        if let displayName {
            try self.checkDisplayName(displayName)
        }
        try self.change(
            tenantID,
            action: "changing a tenant",
            set: """
                display_name = coalesce($2, display_name),
                state = coalesce($3, state),
                disabled_reason = CASE WHEN coalesce($3, state) = 'active' THEN '' ELSE disabled_reason END
                """,
            [displayName, state?.rawValue],
            on: connection
        )
        return try self.get(tenantID, on: connection)
    }

    /// Disables a tenant: its calls are refused and its jobs do not run, its data is kept.
    ///
    /// Disabling a disabled tenant replaces its reason.
    ///
    /// - Parameters:
    ///   - tenantID: The tenant.
    ///   - reason: Why, for its administrators; not empty, at most ``maximumReasonLength``
    ///     characters.
    ///   - connection: A platform transaction's connection.
    /// - Returns: The tenant as changed.
    /// - Throws: ``StoreError`` with code `invalidArgument` for an empty or overlong reason,
    ///   `notFound` when there is no such tenant, `insufficientPrivilege` outside a platform
    ///   transaction.
    public static func disable(_ tenantID: String, reason: String, on connection: PostgresConnection) throws -> Tenant {
        guard !reason.allSatisfy(\.isWhitespace) else {
            throw StoreError(.invalidArgument, "a reason is required to disable tenant '\(tenantID)'; it was empty")
        }
        guard reason.count <= self.maximumReasonLength else {
            throw StoreError(
                .invalidArgument,
                "the reason is \(reason.count) characters long; expected at most \(self.maximumReasonLength)"
            )
        }
        try self.change(
            tenantID,
            action: "disabling a tenant",
            set: "state = 'disabled', disabled_reason = $2",
            [reason],
            on: connection
        )
        return try self.get(tenantID, on: connection)
    }

    /// Sets some or all of a tenant's quotas.
    ///
    /// - Parameters:
    ///   - quotas: The new values; only those of `fields` are read.
    ///   - tenantID: The tenant.
    ///   - fields: The quotas to change; `nil` for all of them.
    ///   - connection: A platform transaction's connection.
    /// - Returns: The tenant's quotas as they are now.
    /// - Throws: ``StoreError`` with code `invalidArgument` naming each quota out of range,
    ///   `notFound` when there is no such tenant, `insufficientPrivilege` outside a platform
    ///   transaction.
    @discardableResult
    public static func setQuotas(
        _ quotas: TenantQuotas,
        for tenantID: String,
        fields: Set<TenantQuotas.Field>? = nil,
        on connection: PostgresConnection
    ) throws -> TenantQuotas {
        let fields = fields ?? Set(TenantQuotas.Field.allCases)
        let violations = quotas.violations().filter { fields.contains($0.field) }
        guard violations.isEmpty else {
            throw StoreError(.invalidArgument, violations.map(\.description).joined(separator: "; "))
        }
        // Each column takes its new value only when named, so a partial update is one statement.
        let assignments = TenantQuotas.Field.allCases.enumerated().map { index, field in
            "\(field.rawValue) = CASE WHEN $2 @> ARRAY['\(field.rawValue)'] THEN $\(index + 3) "
                + "ELSE \(field.rawValue) END"
        }
        try self.change(
            tenantID,
            action: "setting a tenant's quotas",
            set: assignments.joined(separator: ",\n"),
            [PostgresArray.literal(fields.map(\.rawValue).sorted())] + self.quotaParameters(quotas),
            on: connection
        )
        return try self.quotas(for: tenantID, on: connection)
    }

    /// Reads a tenant's quotas as set, zero for each deployment default.
    ///
    /// - Parameters:
    ///   - tenantID: The tenant.
    ///   - connection: A platform transaction's, or the tenant's own transaction's connection.
    /// - Throws: ``StoreError`` with code `notFound` when there is no such tenant or row-level
    ///   security hides it.
    public static func quotas(for tenantID: String, on connection: PostgresConnection) throws -> TenantQuotas {
        try self.get(tenantID, on: connection).quotas
    }

    /// Runs `UPDATE gnomon_tenants SET <set>, updated_at = now()` for one tenant.
    ///
    /// `$1` is the tenant id; `parameters` are `$2` onwards.
    private static func change(
        _ tenantID: String,
        action: String,
        set: String,
        _ parameters: [any PostgresBindable],
        on connection: PostgresConnection
    ) throws {
        let result: PostgresResult
        do {
            result = try connection.query(
                "UPDATE gnomon_tenants SET \(set), updated_at = now() WHERE tenant_id = $1::text",
                [tenantID] + parameters
            )
        } catch let error as StoreError {
            throw error.explainingPrivilege(action, needs: TransactionKind.platform)
        }
        guard result.affectedRows == 1 else {
            throw self.notFound(tenantID)
        }
    }

    private static func checkDisplayName(_ displayName: String) throws {
        guard displayName.count <= self.maximumDisplayNameLength else {
            throw StoreError(
                .invalidArgument,
                "the display name is \(displayName.count) characters long; expected at most "
                    + "\(self.maximumDisplayNameLength)"
            )
        }
    }

    static func notFound(_ tenantID: String) -> StoreError {
        StoreError(
            .notFound,
            "there is no tenant '\(tenantID)', or this transaction may not see it; tenant transactions see only "
                + "their own tenant"
        )
    }

    private static func quotaParameters(_ quotas: TenantQuotas) -> [any PostgresBindable] {
        [
            quotas.submitRatePerSecond, quotas.submitBurst, quotas.maxPendingJobs, quotas.maxSchedules,
            quotas.maxPayloadBytes, quotas.maxConcurrentRuns, quotas.maxSecrets,
        ]
    }

    private static let selectSQL = """
        SELECT t.tenant_id, t.display_name, t.state, t.disabled_reason,
            t.submit_rate_per_second, t.submit_burst, t.max_pending_jobs, t.max_schedules,
            t.max_payload_bytes, t.max_concurrent_runs, t.max_secrets,
            (extract(epoch FROM t.created_at) * 1000000)::bigint AS created_us,
            (extract(epoch FROM t.updated_at) * 1000000)::bigint AS updated_us,
            coalesce(u.live_jobs, 0) AS live_jobs, coalesce(u.running_jobs, 0) AS running_jobs,
            coalesce(u.schedules, 0) AS schedules, coalesce(u.secrets, 0) AS secrets
        FROM gnomon_tenants t
        LEFT JOIN gnomon_tenant_usage u ON u.tenant_id = t.tenant_id
        """

    private static func tenant(from row: PostgresRow) throws -> Tenant {
        let stateText = try row.string("state")
        guard let state = TenantState(rawValue: stateText) else {
            throw StoreError(.unexpectedValue, "column 'state' holds '\(stateText)'; expected active or disabled")
        }
        return Tenant(
            id: try row.string("tenant_id"),
            displayName: try row.string("display_name"),
            state: state,
            disabledReason: try row.string("disabled_reason"),
            quotas: TenantQuotas(
                submitRatePerSecond: try row.double("submit_rate_per_second"),
                submitBurst: try row.int64("submit_burst"),
                maxPendingJobs: try row.int64("max_pending_jobs"),
                maxSchedules: try row.int64("max_schedules"),
                maxPayloadBytes: try row.int64("max_payload_bytes"),
                maxConcurrentRuns: try row.int64("max_concurrent_runs"),
                maxSecrets: try row.int64("max_secrets")
            ),
            usage: TenantUsage(
                liveJobs: try row.int64("live_jobs"),
                runningJobs: try row.int64("running_jobs"),
                schedules: try row.int64("schedules"),
                secrets: try row.int64("secrets")
            ),
            createdAt: try row.date(microseconds: "created_us"),
            updatedAt: try row.date(microseconds: "updated_us")
        )
    }
}
