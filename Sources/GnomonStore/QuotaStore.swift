/// Takes and gives back units of a tenant's quotas, atomically and across every node.
///
/// Counts live in `gnomon_tenant_usage`, one row per tenant. A take is one conditional update,
/// `SET n = n + count WHERE n + count <= limit`, run in the caller's transaction together with
/// the change it counts, so that it commits or rolls back with it. Racing takers queue on the
/// row's lock, and each one then sees the count its predecessor committed: two requests can
/// never both take the last unit, whichever node serves them. The lock is held until the
/// caller's transaction ends, so a tenant's takes of one counter follow one another.
///
/// Run takes in the transaction of the change they count: a tenant's own
/// (``PostgresPool/withTenantTransaction(_:_:)``) for its calls, a platform one for the engine.
public enum QuotaStore {
    /// Takes `count` pending jobs of the tenant's `max_pending_jobs` quota.
    ///
    /// - Parameters:
    ///   - count: How many jobs are being added; zero takes nothing.
    ///   - limit: The quota in force, defaults filled in; `nil` counts without a limit.
    ///   - tenantID: The tenant.
    ///   - connection: The connection of the transaction that adds the jobs.
    /// - Returns: The tenant's pending jobs, these included.
    /// - Throws: ``StoreError`` with code `quotaExceeded` and a ``QuotaViolation`` when the
    ///   jobs would not fit, `notFound` when the tenant has no usage row this transaction
    ///   may see, `invalidArgument` for a negative count or limit.
    @discardableResult
    public static func takePendingJobs(
        _ count: Int64,
        limit: Int64?,
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> Int64 {
        try UsageCounter.pendingJobs.take(count, limit: limit, tenantID: tenantID, on: connection)
    }

    /// Gives back `count` pending jobs, as jobs finish or are cancelled; never below zero.
    ///
    /// - Returns: The tenant's pending jobs now.
    /// - Throws: ``StoreError`` with code `notFound` when the tenant has no usage row this
    ///   transaction may see, `invalidArgument` for a negative count.
    @discardableResult
    public static func releasePendingJobs(_ count: Int64, tenantID: String, on connection: PostgresConnection) throws
        -> Int64
    {
        try UsageCounter.pendingJobs.release(count, tenantID: tenantID, on: connection)
    }

    /// Takes `count` running attempts of the tenant's `max_concurrent_runs` quota.
    ///
    /// - Parameters:
    ///   - count: How many attempts are starting; zero takes nothing.
    ///   - limit: The quota in force, defaults filled in; `nil` counts without a limit.
    ///   - tenantID: The tenant.
    ///   - connection: The connection of the transaction that starts the attempts.
    /// - Returns: The tenant's running attempts, these included.
    /// - Throws: ``StoreError`` with code `quotaExceeded`, `notFound` or `invalidArgument`, as
    ///   ``takePendingJobs(_:limit:tenantID:on:)`` does.
    @discardableResult
    public static func takeRunningJobs(
        _ count: Int64,
        limit: Int64?,
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> Int64 {
        try UsageCounter.runningJobs.take(count, limit: limit, tenantID: tenantID, on: connection)
    }

    /// Adds to the tenant's pending jobs and running attempts when the current transaction
    /// commits, in its round trip (``PostgresConnection/runAtCommit(_:_:)``): for changes with
    /// no quota to check, such as attempts ending, or jobs added by a tenant with no limit.
    ///
    /// Every submission, claim and attempt end of a tenant updates its one usage row; queued
    /// for the commit, each holds that row's lock for the server's time alone. Negative
    /// counts give back, never below zero.
    public static func countAtCommit(
        pendingJobs: Int64 = 0,
        runningJobs: Int64 = 0,
        tenantID: String,
        on connection: PostgresConnection
    ) throws {
        guard pendingJobs != 0 || runningJobs != 0 else {
            return
        }
        try connection.runAtCommit(
            """
            UPDATE gnomon_tenant_usage
            SET live_jobs = greatest(0, live_jobs + $2), running_jobs = greatest(0, running_jobs + $3)
            WHERE tenant_id = $1::text
            """,
            [tenantID, pendingJobs, runningJobs]
        )
    }

    /// How many more attempts the tenant may start under its `max_concurrent_runs` quota.
    ///
    /// Locks the tenant's usage row until the transaction ends, so that two claimers of one
    /// tenant cannot both see the same room; take what you start with
    /// ``takeRunningJobs(_:limit:tenantID:on:)`` in the same transaction.
    ///
    /// - Parameter limit: The quota in force; `nil` for no limit, which answers `Int64.max`.
    /// - Returns: The room left, zero when the tenant is at or over its quota.
    public static func runningRoom(limit: Int64?, tenantID: String, on connection: PostgresConnection) throws
        -> Int64
    {
        let running = try connection.query(
            "SELECT running_jobs FROM gnomon_tenant_usage WHERE tenant_id = $1::text FOR UPDATE",
            [tenantID]
        ).first
        guard let running else {
            throw TenantStore.notFound(tenantID)
        }
        guard let limit else {
            return Int64.max
        }
        return max(0, limit - (try running.int64("running_jobs")))
    }

    /// Gives back `count` running attempts, as attempts end; never below zero.
    ///
    /// - Returns: The tenant's running attempts now.
    @discardableResult
    public static func releaseRunningJobs(_ count: Int64, tenantID: String, on connection: PostgresConnection) throws
        -> Int64
    {
        try UsageCounter.runningJobs.release(count, tenantID: tenantID, on: connection)
    }

    /// Takes `count` schedules of the tenant's `max_schedules` quota.
    ///
    /// - Parameters:
    ///   - count: How many schedules are being created; zero takes nothing.
    ///   - limit: The quota in force, defaults filled in; `nil` counts without a limit.
    ///   - tenantID: The tenant.
    ///   - connection: The connection of the transaction that creates the schedules.
    /// - Returns: The tenant's schedules, these included.
    /// - Throws: ``StoreError`` with code `quotaExceeded`, `notFound` or `invalidArgument`, as
    ///   ``takePendingJobs(_:limit:tenantID:on:)`` does.
    @discardableResult
    public static func takeSchedules(
        _ count: Int64,
        limit: Int64?,
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> Int64 {
        try UsageCounter.schedules.take(count, limit: limit, tenantID: tenantID, on: connection)
    }

    /// Gives back `count` schedules, as schedules are deleted; never below zero.
    ///
    /// - Returns: The tenant's schedules now.
    @discardableResult
    public static func releaseSchedules(_ count: Int64, tenantID: String, on connection: PostgresConnection) throws
        -> Int64
    {
        try UsageCounter.schedules.release(count, tenantID: tenantID, on: connection)
    }

    /// Takes `count` secrets of the tenant's `max_secrets` quota.
    ///
    /// - Parameters:
    ///   - count: How many secrets are being created; zero takes nothing.
    ///   - limit: The quota in force, defaults filled in; `nil` counts without a limit.
    ///   - tenantID: The tenant.
    ///   - connection: The connection of the transaction that creates the secrets.
    /// - Returns: The tenant's secrets, these included.
    /// - Throws: ``StoreError`` with code `quotaExceeded`, `notFound` or `invalidArgument`, as
    ///   ``takePendingJobs(_:limit:tenantID:on:)`` does.
    @discardableResult
    public static func takeSecrets(
        _ count: Int64,
        limit: Int64?,
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> Int64 {
        try UsageCounter.secrets.take(count, limit: limit, tenantID: tenantID, on: connection)
    }

    /// Gives back `count` secrets, as secrets are deleted; never below zero.
    ///
    /// - Returns: The tenant's secrets now.
    @discardableResult
    public static func releaseSecrets(_ count: Int64, tenantID: String, on connection: PostgresConnection) throws
        -> Int64
    {
        try UsageCounter.secrets.release(count, tenantID: tenantID, on: connection)
    }
}

/// A counter of `gnomon_tenant_usage` and the quota that bounds it.
struct UsageCounter {
    /// The column, fixed here and never taken from input.
    let column: String
    let quota: TenantQuotas.Field
    /// What the counter counts, for messages.
    let noun: String

    static let pendingJobs = UsageCounter(column: "live_jobs", quota: .maxPendingJobs, noun: "pending jobs")
    static let runningJobs = UsageCounter(column: "running_jobs", quota: .maxConcurrentRuns, noun: "running attempts")
    static let schedules = UsageCounter(column: "schedules", quota: .maxSchedules, noun: "schedules")
    static let secrets = UsageCounter(column: "secrets", quota: .maxSecrets, noun: "secrets")

    func take(_ count: Int64, limit: Int64?, tenantID: String, on connection: PostgresConnection) throws -> Int64 {
        try self.checkCount(count)
        if let limit, limit < 0 {
            throw StoreError(
                .invalidArgument,
                "the \(self.quota.rawValue) limit is \(limit); expected 0 or more, or no limit"
            )
        }
        guard count > 0 else {
            return try self.current(tenantID: tenantID, on: connection)
        }
        let column = self.column
        let taken = try self.run(
            """
            UPDATE gnomon_tenant_usage SET \(column) = \(column) + $2
            WHERE tenant_id = $1::text AND ($3::bigint IS NULL OR \(column) + $2 <= $3::bigint)
            RETURNING \(column) AS value
            """,
            [tenantID, count, limit],
            on: connection
        )
        if let taken {
            return taken
        }
        // Refused, or no such row: read the count to say which, and by how much.
        let current = try self.current(tenantID: tenantID, on: connection)
        let limit = limit ?? 0
        throw StoreError(
            .quotaExceeded,
            "tenant '\(tenantID)' has \(current) \(self.noun) of the \(limit) its \(self.quota.rawValue) quota allows, "
                + "so \(count) more would exceed it; free some first, or have a platform administrator raise the quota",
            quota: QuotaViolation(quota: self.quota.rawValue, limit: limit, current: current, requested: count)
        )
    }

    func release(_ count: Int64, tenantID: String, on connection: PostgresConnection) throws -> Int64 {
        try self.checkCount(count)
        let column = self.column
        let released = try self.run(
            """
            UPDATE gnomon_tenant_usage SET \(column) = greatest(0, \(column) - $2)
            WHERE tenant_id = $1::text
            RETURNING \(column) AS value
            """,
            [tenantID, count],
            on: connection
        )
        guard let released else {
            throw TenantStore.notFound(tenantID)
        }
        return released
    }

    /// The counter's value; `notFound` when the row is missing or hidden.
    func current(tenantID: String, on connection: PostgresConnection) throws -> Int64 {
        let value = try self.run(
            "SELECT \(self.column) AS value FROM gnomon_tenant_usage WHERE tenant_id = $1::text",
            [tenantID],
            on: connection
        )
        guard let value else {
            throw TenantStore.notFound(tenantID)
        }
        return value
    }

    /// Runs a statement returning at most one `value`.
    private func run(_ sql: String, _ parameters: [any PostgresBindable], on connection: PostgresConnection) throws
        -> Int64?
    {
        do {
            return try connection.query(sql, parameters).first.map { try $0.int64("value") }
        } catch let error as StoreError {
            throw error.explainingPrivilege("counting \(self.noun)", needs: TransactionKind.either)
        }
    }

    private func checkCount(_ count: Int64) throws {
        // The bound keeps the sum in the column far from bigint's overflow.
        guard (0...1_000_000_000_000).contains(count) else {
            throw StoreError(
                .invalidArgument,
                "the count of \(self.noun) is \(count); expected 0 to 1000000000000"
            )
        }
    }
}
