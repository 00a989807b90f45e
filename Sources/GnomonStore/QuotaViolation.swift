/// Which quota refused a request, and how far over it the request would have gone.
///
/// Attached to a ``StoreError`` with code `quotaExceeded`, for a status's quota details.
public struct QuotaViolation: Sendable, Hashable {
    /// The quota's name, as in ``TenantQuotas/Field``, such as `max_pending_jobs`.
    public var quota: String
    /// The quota in force.
    public var limit: Int64
    /// What the tenant uses now, before the refused request.
    public var current: Int64
    /// What the refused request asked for.
    public var requested: Int64

    /// Creates a description of a refused request.
    public init(quota: String, limit: Int64, current: Int64, requested: Int64) {
        self.quota = quota
        self.limit = limit
        self.current = current
        self.requested = requested
    }
}
