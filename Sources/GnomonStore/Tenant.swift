public import Foundation

/// Whether a tenant's calls are served.
public enum TenantState: String, Sendable, Hashable, CaseIterable {
    /// Served.
    case active
    /// Every call with the tenant's tokens is refused and its jobs do not run; its data is kept.
    case disabled
}

/// What a tenant uses now, counted in the same transactions as the changes counted.
public struct TenantUsage: Sendable, Hashable {
    /// Jobs pending, running or waiting to retry.
    public var liveJobs: Int64
    /// Attempts running now.
    public var runningJobs: Int64
    public var schedules: Int64
    public var secrets: Int64

    /// Creates usage counters.
    public init(liveJobs: Int64 = 0, runningJobs: Int64 = 0, schedules: Int64 = 0, secrets: Int64 = 0) {
        self.liveJobs = liveJobs
        self.runningJobs = runningJobs
        self.schedules = schedules
        self.secrets = secrets
    }
}

/// A tenant as stored: its name, state, quotas as set, and what it uses now.
public struct Tenant: Sendable, Hashable {
    /// 1 to 63 characters of `a-z`, `0-9` and `-`, starting with a letter.
    public var id: String
    public var displayName: String
    public var state: TenantState
    /// Why the tenant was disabled; empty while it is active.
    public var disabledReason: String
    /// The quotas as an administrator set them, zero for the deployment's default; see
    /// ``TenantQuotas/resolved(over:)`` for those in force.
    public var quotas: TenantQuotas
    public var usage: TenantUsage
    public var createdAt: Date
    public var updatedAt: Date

    /// Creates a tenant value; the store builds these from rows.
    public init(
        id: String,
        displayName: String,
        state: TenantState,
        disabledReason: String,
        quotas: TenantQuotas,
        usage: TenantUsage,
        createdAt: Date,
        updatedAt: Date
    ) {
        self.id = id
        self.displayName = displayName
        self.state = state
        self.disabledReason = disabledReason
        self.quotas = quotas
        self.usage = usage
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
