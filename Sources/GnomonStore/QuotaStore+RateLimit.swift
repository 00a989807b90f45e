/// Whether a rate-limited request may go ahead.
public enum RateLimitDecision: Sendable, Hashable {
    /// The tokens were taken; `tokensLeft` remain in the bucket.
    case allowed(tokensLeft: Double)
    /// Too few tokens: nothing was taken. Enough will have accumulated after `retryAfter`,
    /// unless other requests take them first.
    case refused(retryAfter: Duration, tokensAvailable: Double)
}

extension QuotaStore {
    /// Takes `count` submissions from the tenant's token bucket, shared by every node.
    ///
    /// The bucket holds up to `burst` tokens and gains `ratePerSecond` each second. One
    /// conditional update refills it for the time elapsed and takes the tokens only if there
    /// are enough. All nodes update the same row, so PostgreSQL's row lock puts the takers in
    /// one order, and each one sees what its predecessor left: the limit holds across nodes
    /// exactly, with no node-local share to tune. Time is the database's `clock_timestamp()`,
    /// read after any wait for the lock, so nodes' clocks play no part; `now()` would be the
    /// start of the caller's transaction, which may come before the last take.
    ///
    /// The row stays locked until the caller's transaction ends, and a tenant's takes follow
    /// one another. Call this in a short transaction of its own (or none) before the
    /// submission's, so that submissions do not queue behind each other for their whole
    /// length; tokens are then spent even when the submission fails afterwards, as a rate
    /// limit usually counts attempts. Called inside the submission's transaction instead,
    /// the tokens come back if it rolls back.
    ///
    /// - Parameters:
    ///   - count: The submissions, at least 1 and at most `burst`.
    ///   - ratePerSecond: The tenant's rate in force, defaults filled in; above zero. With no
    ///     rate limit in force, do not call this.
    ///   - burst: The bucket's size, at least 1.
    ///   - tenantID: The tenant.
    ///   - connection: A connection of the tenant's transaction, a platform transaction, or
    ///     one outside any transaction.
    /// - Returns: ``RateLimitDecision/allowed(tokensLeft:)``, or
    ///   ``RateLimitDecision/refused(retryAfter:tokensAvailable:)`` with how long until enough
    ///   tokens accumulate, for a RESOURCE_EXHAUSTED status's retry information.
    /// - Throws: ``StoreError`` with code `invalidArgument` for a count, rate or burst out of
    ///   range; `quotaExceeded` (quota `submit_burst`) when `count` exceeds `burst`, which no
    ///   wait would fix; `notFound` when there is no such tenant or this transaction may not
    ///   see it.
    public static func takeSubmitTokens(
        _ count: Int,
        ratePerSecond: Double,
        burst: Int64,
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> RateLimitDecision {
        try RateBucket.submit.take(
            count, ratePerSecond: ratePerSecond, burst: burst, tenantID: tenantID, on: connection)
    }
}

/// One of a tenant's token buckets in `gnomon_rate_buckets`.
struct RateBucket {
    /// The bucket's name in its row.
    let name: String
    /// The quotas that size and refill the bucket, named in errors.
    let burstQuota: TenantQuotas.Field
    let rateQuota: TenantQuotas.Field

    static let submit = RateBucket(name: "submit", burstQuota: .submitBurst, rateQuota: .submitRatePerSecond)

    func take(
        _ count: Int,
        ratePerSecond rate: Double,
        burst: Int64,
        tenantID: String,
        on connection: PostgresConnection
    ) throws -> RateLimitDecision {
        try self.check(count: count, rate: rate, burst: burst, tenantID: tenantID)
        let parameters: [any PostgresBindable] = [tenantID, self.name, Double(burst), rate, Double(count)]
        // A bucket is created by its first take. An update misses a bucket another taker
        // created after the update's snapshot was taken, so a peek that finds enough tokens
        // means: try again, the bucket is there now.
        var available = 0.0
        for _ in 0..<3 {
            if let row = try self.query(Self.takeSQL, parameters, on: connection) {
                return .allowed(tokensLeft: try row.double("tokens"))
            }
            if let row = try self.query(Self.peekSQL, parameters, on: connection) {
                available = try row.double("available")
                if available < Double(count) {
                    break
                }
            } else {
                try self.create(tenantID: tenantID, on: connection)
            }
        }
        return .refused(retryAfter: Self.wait(for: Double(count) - available, at: rate), tokensAvailable: available)
    }

    /// How long `rate` takes to add `missing` tokens, in whole milliseconds: at least 1, at
    /// most a year.
    static func wait(for missing: Double, at rate: Double) -> Duration {
        let milliseconds = (missing / rate * 1_000).rounded(.up)
        return .milliseconds(Int64(min(max(milliseconds, 1), 365 * 86_400_000)))
    }

    private func check(count: Int, rate: Double, burst: Int64, tenantID: String) throws {
        let maximumRate = self.rateQuota.maximum
        guard rate.isFinite, rate > 0, rate <= maximumRate else {
            throw StoreError(
                .invalidArgument,
                "the \(self.rateQuota.rawValue) in force is \(rate); expected more than 0 and at most "
                    + "\(TenantQuotas.format(maximumRate)); with no rate limit in force, take no tokens"
            )
        }
        let maximumBurst = Int64(self.burstQuota.maximum)
        guard (1...maximumBurst).contains(burst) else {
            throw StoreError(
                .invalidArgument,
                "the \(self.burstQuota.rawValue) in force is \(burst); expected 1 to \(maximumBurst)"
            )
        }
        guard count >= 1 else {
            throw StoreError(.invalidArgument, "the count of submissions is \(count); expected 1 or more")
        }
        guard Int64(count) <= burst else {
            throw StoreError(
                .quotaExceeded,
                "\(count) submissions at once exceed tenant '\(tenantID)''s \(self.burstQuota.rawValue) of \(burst), "
                    + "which no wait would fix; submit at most \(burst) at once",
                quota: QuotaViolation(
                    quota: self.burstQuota.rawValue, limit: burst, current: 0, requested: Int64(count))
            )
        }
    }

    private func create(tenantID: String, on connection: PostgresConnection) throws {
        do {
            try connection.query(
                "INSERT INTO gnomon_rate_buckets (tenant_id, bucket) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                [tenantID, self.name]
            )
        } catch let error as StoreError where error.sqlState == "23503" || error.sqlState == "23514" {
            // No such tenant, or an id no tenant can have.
            throw TenantStore.notFound(tenantID)
        } catch let error as StoreError {
            throw error.explainingPrivilege("taking rate-limit tokens for that tenant", needs: TransactionKind.either)
        }
    }

    private func query(_ sql: String, _ parameters: [any PostgresBindable], on connection: PostgresConnection) throws
        -> PostgresRow?
    {
        do {
            return try connection.query(sql, parameters).first
        } catch let error as StoreError {
            throw error.explainingPrivilege("taking rate-limit tokens for that tenant", needs: TransactionKind.either)
        }
    }

    /// The bucket refilled to now; the `clock_timestamp()` calls run after any wait for the
    /// row's lock, when PostgreSQL evaluates the update again on the row's newest version.
    private static let refilled = """
        least($3::float8, tokens + $4::float8
            * greatest(0, extract(epoch FROM clock_timestamp() - refilled_at)::float8))
        """

    /// $1 tenant, $2 bucket, $3 burst, $4 rate per second, $5 count.
    static let takeSQL = """
        UPDATE gnomon_rate_buckets
        SET tokens = \(refilled) - $5::float8,
            refilled_at = greatest(refilled_at, clock_timestamp())
        WHERE tenant_id = $1::text AND bucket = $2::text AND \(refilled) >= $5::float8
        RETURNING tokens
        """

    static let peekSQL = """
        SELECT \(refilled) AS available, $5::float8 AS wanted
        FROM gnomon_rate_buckets
        WHERE tenant_id = $1::text AND bucket = $2::text
        """
}
