public import GnomonProtocol

/// One thing a method needs its caller to be allowed; each method needs exactly one.
public enum Permission: String, Sendable, Hashable, CaseIterable {
    /// The server's own status: any authenticated caller.
    case readServerStatus = "server.read"
    case readJobs = "jobs.read"
    case writeJobs = "jobs.write"
    case readSchedules = "schedules.read"
    case writeSchedules = "schedules.write"
    case readQueues = "queues.read"
    case writeQueues = "queues.write"
    case readDeadLetters = "dead_letters.read"
    case writeDeadLetters = "dead_letters.write"
    /// Secret names and versions, never their values.
    case readSecrets = "secrets.read"
    case writeSecrets = "secrets.write"
    /// Leasing, heartbeating and finishing jobs.
    case work = "work"
    /// A tenant's audit log; a platform admin's reaches every tenant.
    case readAudit = "audit.read"
    /// A tenant's settings and quotas; a tenant admin's own, a platform admin's any.
    case readTenant = "tenant.read"
    /// Creating, changing and disabling tenants and setting their quotas.
    case manageTenants = "tenants.manage"

    /// The permissions each role holds. The single source of truth for RBAC.
    public static func granted(to role: Role) -> Set<Permission> {
        switch role {
        case .viewer:
            return [.readServerStatus, .readJobs, .readSchedules, .readQueues, .readDeadLetters]
        case .operator:
            return Self.granted(to: .viewer).union([
                .writeJobs, .writeSchedules, .writeQueues, .writeDeadLetters, .readSecrets,
            ])
        case .admin:
            return Self.granted(to: .operator).union([.writeSecrets, .readAudit, .readTenant])
        case .worker:
            return [.readServerStatus, .work]
        case .platformAdmin:
            return [.readServerStatus, .manageTenants, .readTenant, .readAudit]
        }
    }

    /// Whether any of `roles` holds this permission.
    public func isGranted(to roles: Set<Role>) -> Bool {
        roles.contains { Self.granted(to: $0).contains(self) }
    }
}

/// What a method needs and what it touches: the table every call is checked against.
public struct MethodPolicy: Sendable, Hashable {
    /// The one permission the caller needs.
    public let permission: Permission
    /// Whether the method changes anything; every mutating call is audited.
    public let isMutating: Bool
    /// The kind of resource it acts on, as the audit log names it.
    public let resourceType: String

    /// Whether the method acts on one tenant's data, so the caller must have a tenant.
    public var needsTenant: Bool {
        switch self.permission {
        case .readServerStatus, .manageTenants:
            return false
        case .readAudit, .readTenant:
            // A platform admin acts on any tenant, or all; a tenant admin on their own.
            return false
        default:
            return true
        }
    }

    /// The policy of `method`, or `nil` for a method this table does not know: refuse those.
    public static func of(_ method: MethodDescriptor) -> MethodPolicy? {
        Self.table[method.fullName]
    }

    /// Every method of the protocol, by full name.
    static let table: [String: MethodPolicy] = {
        func entry(_ method: MethodDescriptor, _ permission: Permission, mutating: Bool, _ resource: String)
            -> (String, MethodPolicy)
        {
            (method.fullName, MethodPolicy(permission: permission, isMutating: mutating, resourceType: resource))
        }
        let entries = [
            entry(.getServerStatus, .readServerStatus, mutating: false, "server"),

            entry(.submitJob, .writeJobs, mutating: true, "job"),
            entry(.submitJobs, .writeJobs, mutating: true, "job"),
            entry(.getJob, .readJobs, mutating: false, "job"),
            entry(.listJobs, .readJobs, mutating: false, "job"),
            entry(.cancelJob, .writeJobs, mutating: true, "job"),
            entry(.retryJob, .writeJobs, mutating: true, "job"),

            entry(.createSchedule, .writeSchedules, mutating: true, "schedule"),
            entry(.updateSchedule, .writeSchedules, mutating: true, "schedule"),
            entry(.getSchedule, .readSchedules, mutating: false, "schedule"),
            entry(.listSchedules, .readSchedules, mutating: false, "schedule"),
            entry(.pauseSchedule, .writeSchedules, mutating: true, "schedule"),
            entry(.resumeSchedule, .writeSchedules, mutating: true, "schedule"),
            entry(.deleteSchedule, .writeSchedules, mutating: true, "schedule"),
            entry(.previewSchedule, .readSchedules, mutating: false, "schedule"),

            entry(.listQueues, .readQueues, mutating: false, "queue"),
            entry(.getQueue, .readQueues, mutating: false, "queue"),
            entry(.pauseQueue, .writeQueues, mutating: true, "queue"),
            entry(.resumeQueue, .writeQueues, mutating: true, "queue"),
            entry(.setQueueConcurrency, .writeQueues, mutating: true, "queue"),

            entry(.listDeadLetters, .readDeadLetters, mutating: false, "dead_letter"),
            entry(.redriveDeadLetters, .writeDeadLetters, mutating: true, "dead_letter"),

            entry(.putSecret, .writeSecrets, mutating: true, "secret"),
            entry(.listSecrets, .readSecrets, mutating: false, "secret"),
            entry(.deleteSecret, .writeSecrets, mutating: true, "secret"),

            entry(.leaseJobs, .work, mutating: true, "job"),
            entry(.heartbeat, .work, mutating: true, "job"),
            entry(.completeAttempt, .work, mutating: true, "job"),
            entry(.failAttempt, .work, mutating: true, "job"),

            entry(.listAuditRecords, .readAudit, mutating: false, "audit_record"),

            entry(.createTenant, .manageTenants, mutating: true, "tenant"),
            entry(.updateTenant, .manageTenants, mutating: true, "tenant"),
            entry(.disableTenant, .manageTenants, mutating: true, "tenant"),
            entry(.getTenant, .readTenant, mutating: false, "tenant"),
            entry(.listTenants, .manageTenants, mutating: false, "tenant"),
            entry(.getQuotas, .readTenant, mutating: false, "tenant"),
            entry(.setQuotas, .manageTenants, mutating: true, "tenant"),
        ]
        return Dictionary(uniqueKeysWithValues: entries)
    }()
}
