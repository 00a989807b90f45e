import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Answers `gnomon.v1.TenantService`: tenants and their quotas, for platform admins; a tenant
/// admin may read their own tenant and quotas.
struct TenantService: Sendable {
    let pool: PostgresPool
    let audit: Auditor
    let tenants: TenantStateCache
    let cursors: PageCursorSealer

    func create(_ request: V1.CreateTenantRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.CreateTenantResponse
    {
        let quotas = try Self.quotas(request.quotas)
        let tenant = try await self.platformChange(context, resourceID: request.tenantID, doing: "creating the tenant")
        {
            try TenantStore.create(
                tenantID: request.tenantID, displayName: request.displayName, quotas: quotas, on: $0)
        }
        return V1.CreateTenantResponse(tenant: Self.message(tenant))
    }

    func update(_ request: V1.UpdateTenantRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.UpdateTenantResponse
    {
        let mask = Set(request.updateMask)
        let unknown = mask.subtracting(["display_name", "state"])
        guard unknown.isEmpty else {
            throw CallStatus(
                code: .invalidArgument,
                message: "update_mask names \(unknown.sorted().joined(separator: ", ")); "
                    + "the fields that can change are display_name and state")
        }
        let changesName = mask.isEmpty || mask.contains("display_name")
        let changesState = mask.isEmpty || mask.contains("state")
        var state: TenantState?
        if changesState {
            switch request.state {
            case .active: state = .active
            case .disabled: state = .disabled
            default:
                if !mask.isEmpty {
                    throw CallStatus(code: .invalidArgument, message: "state must be ACTIVE or DISABLED")
                }
            }
        }
        let displayName = changesName ? request.displayName : nil
        let newState = state
        let tenant = try await self.platformChange(context, resourceID: request.tenantID, doing: "changing the tenant")
        {
            try TenantStore.update(request.tenantID, displayName: displayName, state: newState, on: $0)
        }
        self.tenants.forget(request.tenantID)
        return V1.UpdateTenantResponse(tenant: Self.message(tenant))
    }

    func disable(_ request: V1.DisableTenantRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.DisableTenantResponse
    {
        let tenant = try await self.platformChange(context, resourceID: request.tenantID, doing: "disabling the tenant")
        {
            try TenantStore.disable(request.tenantID, reason: request.reason, on: $0)
        }
        self.tenants.forget(request.tenantID)
        return V1.DisableTenantResponse(tenant: Self.message(tenant))
    }

    func get(_ request: V1.GetTenantRequest, _ context: CallContext) async throws(CallStatus) -> V1.GetTenantResponse {
        let tenant = try await self.read(request.tenantID, context) { try TenantStore.get($0, on: $1) }
        return V1.GetTenantResponse(tenant: Self.message(tenant), usage: Self.usage(tenant.usage))
    }

    func getQuotas(_ request: V1.GetQuotasRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.GetQuotasResponse
    {
        let tenant = try await self.read(request.tenantID, context) { try TenantStore.get($0, on: $1) }
        return V1.GetQuotasResponse(quotas: Self.message(tenant.quotas), usage: Self.usage(tenant.usage))
    }

    func setQuotas(_ request: V1.SetQuotasRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.SetQuotasResponse
    {
        var fields: Set<TenantQuotas.Field> = []
        for name in request.updateMask {
            guard let field = TenantQuotas.Field(rawValue: name) else {
                throw CallStatus(
                    code: .invalidArgument,
                    message: "update_mask names '\(name)', which is not a quota; the quotas are "
                        + TenantQuotas.Field.allCases.map(\.rawValue).joined(separator: ", "))
            }
            fields.insert(field)
        }
        let quotas = try Self.quotas(request.quotas)
        let chosen = fields.isEmpty ? nil : fields
        let saved = try await self.platformChange(context, resourceID: request.tenantID, doing: "setting quotas") {
            try TenantStore.setQuotas(quotas, for: request.tenantID, fields: chosen, on: $0)
        }
        return V1.SetQuotasResponse(quotas: Self.message(saved))
    }

    func list(_ request: V1.ListTenantsRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.ListTenantsResponse
    {
        let state: TenantState? =
            switch request.state {
            case .active: .active
            case .disabled: .disabled
            default: nil
            }
        let limit = try Pages.size(request.page)
        let after = try Pages.position(request.page, cursors: self.cursors, scope: "ListTenants", tenantID: nil)
            .map { String(decoding: $0, as: UTF8.self) }
        let page: (tenants: [Tenant], nextAfter: String?)
        do {
            page = try await self.pool.withPlatformTransaction {
                try TenantStore.list(state: state, after: after, limit: limit, on: $0)
            }
        } catch {
            throw CallStatus(error, doing: "listing tenants")
        }
        return V1.ListTenantsResponse(
            tenants: page.tenants.map(Self.message),
            nextPageToken: page.nextAfter.map {
                self.cursors.seal(Array($0.utf8), scope: "ListTenants", tenantID: nil)
            } ?? "")
    }

    // MARK: - Helpers

    /// Reads a tenant: a platform admin any, a tenant admin only their own (another is NOT_FOUND).
    private func read(
        _ requested: String,
        _ context: CallContext,
        _ body: @escaping @Sendable (String, PostgresConnection) throws -> Tenant
    ) async throws(CallStatus) -> Tenant {
        do {
            if context.principal.roles.contains(.platformAdmin) && context.tenantID == nil {
                guard !requested.isEmpty else {
                    throw CallStatus(code: .invalidArgument, message: "tenant_id is required")
                }
                return try await self.pool.withPlatformTransaction { try body(requested, $0) }
            }
            let own = context.tenantID ?? ""
            guard requested.isEmpty || requested == own else {
                throw CallStatus(code: .notFound, message: "there is no tenant '\(requested)'")
            }
            return try await self.pool.withTenantTransaction(own) { try body(own, $0) }
        } catch {
            throw CallStatus(error, doing: "reading the tenant")
        }
    }

    /// Runs a platform change and its audit record in one transaction; a failure is audited alone.
    private func platformChange<T: Sendable>(
        _ context: CallContext,
        resourceID: String,
        doing action: String,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws(CallStatus) -> T {
        let audit = self.audit
        do {
            return try await self.pool.withPlatformTransaction { connection in
                let value = try body(connection)
                try audit.record(context, resourceID: resourceID, status: CallStatus(code: .ok), on: connection)
                return value
            }
        } catch {
            let status = CallStatus(error, doing: action)
            await audit.recordFailure(context, resourceID: resourceID, status: status)
            throw status
        }
    }

    // TODO: add a --default-quota NAME=VALUE option to gnomond, so that a quota of 0 resolves
    // (TenantQuotas.resolved(over:)) to a deployment default once job submission takes quotas.
    private static func quotas(_ message: V1.Quotas?) throws(CallStatus) -> TenantQuotas {
        let message = message ?? V1.Quotas()
        let quotas = TenantQuotas(
            submitRatePerSecond: message.submitRatePerSecond,
            submitBurst: Int64(message.submitBurst),
            maxPendingJobs: Int64(clamping: message.maxPendingJobs),
            maxSchedules: Int64(message.maxSchedules),
            maxPayloadBytes: Int64(clamping: message.maxPayloadBytes),
            maxConcurrentRuns: Int64(message.maxConcurrentRuns),
            maxSecrets: Int64(message.maxSecrets))
        let violations = quotas.violations()
        guard violations.isEmpty else {
            throw CallStatus(code: .invalidArgument, message: violations.map(\.description).joined(separator: "; "))
        }
        return quotas
    }

    static func message(_ quotas: TenantQuotas) -> V1.Quotas {
        V1.Quotas(
            submitRatePerSecond: quotas.submitRatePerSecond,
            submitBurst: UInt32(clamping: quotas.submitBurst),
            maxPendingJobs: UInt64(clamping: quotas.maxPendingJobs),
            maxSchedules: UInt32(clamping: quotas.maxSchedules),
            maxPayloadBytes: UInt64(clamping: quotas.maxPayloadBytes),
            maxConcurrentRuns: UInt32(clamping: quotas.maxConcurrentRuns),
            maxSecrets: UInt32(clamping: quotas.maxSecrets))
    }

    static func message(_ tenant: Tenant) -> V1.Tenant {
        V1.Tenant(
            id: tenant.id,
            displayName: tenant.displayName,
            state: tenant.state == .active ? .active : .disabled,
            quotas: Self.message(tenant.quotas),
            createdAtUnixMs: Int64(tenant.createdAt.timeIntervalSince1970 * 1_000),
            updatedAtUnixMs: Int64(tenant.updatedAt.timeIntervalSince1970 * 1_000),
            disabledReason: tenant.disabledReason)
    }

    static func usage(_ usage: TenantUsage) -> V1.QuotaUsage {
        V1.QuotaUsage(
            pendingJobs: UInt64(clamping: usage.liveJobs),
            schedules: UInt32(clamping: usage.schedules),
            concurrentRuns: UInt32(clamping: usage.runningJobs),
            secrets: UInt32(clamping: usage.secrets))
    }
}

/// Page sizes and sealed page tokens, the same for every listing.
enum Pages {
    static let defaultSize = 100
    static let maximumSize = 1_000

    /// The page size asked for: the default for 0, refused above the maximum.
    static func size(_ page: V1.PageRequest?) throws(CallStatus) -> Int {
        let asked = Int(page?.pageSize ?? 0)
        guard asked <= Self.maximumSize else {
            throw CallStatus(
                code: .invalidArgument,
                message: "page_size \(asked) is over the maximum of \(Self.maximumSize); ask for fewer")
        }
        return asked == 0 ? Self.defaultSize : asked
    }

    /// Where the page starts, from its sealed token; `nil` for the first page.
    static func position(
        _ page: V1.PageRequest?,
        cursors: PageCursorSealer,
        scope: String,
        tenantID: String?
    ) throws(CallStatus) -> [UInt8]? {
        guard let token = page?.pageToken, !token.isEmpty else {
            return nil
        }
        do {
            return try cursors.open(token, scope: scope, tenantID: tenantID)
        } catch {
            throw CallStatus(code: .invalidArgument, message: error.message)
        }
    }
}
