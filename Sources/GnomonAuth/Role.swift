/// What a principal may do within its tenant, or across the platform.
public enum Role: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Everything within the tenant, including its secrets and its audit log.
    case admin
    /// Runs the tenant's work: jobs, schedules, queues, dead letters; no secrets or audit.
    case `operator`
    /// Reads the tenant's jobs, schedules and queues; changes nothing.
    case viewer
    /// Leases, heartbeats and finishes jobs: what a worker process needs, nothing more.
    case worker
    /// Creates and changes tenants and their quotas; reads every tenant's audit log.
    case platformAdmin = "platform-admin"

    public static func < (lhs: Role, rhs: Role) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
