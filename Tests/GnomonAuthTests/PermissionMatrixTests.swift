import GnomonAuth
import GnomonProtocol
import Testing

/// The whole role × method matrix, written out by hand from the security model in
/// docs/security.md rather than derived from the code it checks.
private let expectedRoles: [String: Set<String>] = [
    "StatusService/GetServerStatus": ["admin", "operator", "viewer", "worker", "platform-admin"],

    "JobService/SubmitJob": ["admin", "operator"],
    "JobService/SubmitJobs": ["admin", "operator"],
    "JobService/GetJob": ["admin", "operator", "viewer"],
    "JobService/ListJobs": ["admin", "operator", "viewer"],
    "JobService/CancelJob": ["admin", "operator"],
    "JobService/RetryJob": ["admin", "operator"],

    "ScheduleService/CreateSchedule": ["admin", "operator"],
    "ScheduleService/UpdateSchedule": ["admin", "operator"],
    "ScheduleService/GetSchedule": ["admin", "operator", "viewer"],
    "ScheduleService/ListSchedules": ["admin", "operator", "viewer"],
    "ScheduleService/PauseSchedule": ["admin", "operator"],
    "ScheduleService/ResumeSchedule": ["admin", "operator"],
    "ScheduleService/DeleteSchedule": ["admin", "operator"],
    "ScheduleService/PreviewSchedule": ["admin", "operator", "viewer"],

    "QueueService/ListQueues": ["admin", "operator", "viewer"],
    "QueueService/GetQueue": ["admin", "operator", "viewer"],
    "QueueService/PauseQueue": ["admin", "operator"],
    "QueueService/ResumeQueue": ["admin", "operator"],
    "QueueService/SetQueueConcurrency": ["admin", "operator"],

    "DeadLetterService/ListDeadLetters": ["admin", "operator", "viewer"],
    "DeadLetterService/RedriveDeadLetters": ["admin", "operator"],

    "SecretService/PutSecret": ["admin"],
    "SecretService/ListSecrets": ["admin", "operator"],
    "SecretService/DeleteSecret": ["admin"],

    "WorkerService/LeaseJobs": ["worker"],
    "WorkerService/Heartbeat": ["worker"],
    "WorkerService/CompleteAttempt": ["worker"],
    "WorkerService/FailAttempt": ["worker"],

    "AuditService/ListAuditRecords": ["admin", "platform-admin"],

    "TenantService/CreateTenant": ["platform-admin"],
    "TenantService/UpdateTenant": ["platform-admin"],
    "TenantService/DisableTenant": ["platform-admin"],
    "TenantService/GetTenant": ["admin", "platform-admin"],
    "TenantService/ListTenants": ["platform-admin"],
    "TenantService/GetQuotas": ["admin", "platform-admin"],
    "TenantService/SetQuotas": ["platform-admin"],
]

/// Methods that change nothing; every other method is audited on every call.
private let readOnly: Set<String> = [
    "StatusService/GetServerStatus", "JobService/GetJob", "JobService/ListJobs", "ScheduleService/GetSchedule",
    "ScheduleService/ListSchedules", "ScheduleService/PreviewSchedule", "QueueService/ListQueues",
    "QueueService/GetQueue", "DeadLetterService/ListDeadLetters", "SecretService/ListSecrets",
    "AuditService/ListAuditRecords", "TenantService/GetTenant", "TenantService/ListTenants",
    "TenantService/GetQuotas",
]

private func shortName(_ method: MethodDescriptor) -> String {
    String(method.fullName.dropFirst("gnomon.v1.".count))
}

@Suite("Role-based access: the permission table")
struct PermissionMatrixTests {
    @Test("every method of the protocol has a policy, and the expectations name no other method")
    func everyMethodHasAPolicy() {
        let names = Set(MethodDescriptor.all.map(shortName))
        #expect(names == Set(expectedRoles.keys))
        for method in MethodDescriptor.all {
            #expect(MethodPolicy.of(method) != nil, "\(method.fullName) has no policy")
        }
    }

    @Test("each cell of the role × method matrix", arguments: MethodDescriptor.all.map(\.fullName), Role.allCases)
    func cell(methodName: String, role: Role) throws {
        let method = try #require(MethodDescriptor.named(methodName))
        let policy = try #require(MethodPolicy.of(method))
        let allowed = expectedRoles[shortName(method)]?.contains(role.rawValue) ?? false
        #expect(
            policy.permission.isGranted(to: [role]) == allowed,
            "\(role.rawValue) on \(shortName(method)) should be \(allowed ? "allowed" : "denied")")
    }

    @Test("a method is mutating exactly when it is not on the read-only list")
    func mutatingMethods() throws {
        for method in MethodDescriptor.all {
            let policy = try #require(MethodPolicy.of(method))
            #expect(policy.isMutating == !readOnly.contains(shortName(method)), "\(method.fullName)")
        }
    }

    @Test("a viewer may call no mutating method, and a worker nothing outside the worker service and status")
    func leastPrivilege() throws {
        for method in MethodDescriptor.all {
            let policy = try #require(MethodPolicy.of(method))
            if policy.isMutating {
                #expect(!policy.permission.isGranted(to: [.viewer]), "viewer may call \(method.fullName)")
            }
            if policy.permission.isGranted(to: [.worker]) {
                #expect(method.serviceName.hasSuffix("WorkerService") || method == .getServerStatus)
            }
        }
    }

    @Test("no roles grant nothing; several roles grant the union of theirs")
    func unionOfRoles() {
        for permission in Permission.allCases {
            #expect(!permission.isGranted(to: []))
        }
        #expect(Permission.work.isGranted(to: [.viewer, .worker]))
        #expect(Permission.readJobs.isGranted(to: [.viewer, .worker]))
        #expect(!Permission.writeJobs.isGranted(to: [.viewer, .worker]))
    }
}
