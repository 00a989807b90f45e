import Foundation
import GnomonAuth
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonServer
import GnomonTestSupport
import Testing

@Suite("Authentication and authorization, end to end over TLS", .serialized)
struct AuthEndToEndTests {
    @Test("no token, a bad scheme, an expired token, another audience or issuer are UNAUTHENTICATED and named")
    func unauthenticated() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let noToken = await server.status(.getServerStatus, token: nil)
            #expect(noToken.code == .unauthenticated)
            #expect(noToken.message.contains("no credentials"))

            let expired = try server.token(
                "acme", [.admin], lifetime: .seconds(60), issuedAt: Date().addingTimeInterval(-3_600))
            let expiredStatus = await server.status(.getServerStatus, token: expired)
            #expect(expiredStatus.code == .unauthenticated)
            #expect(expiredStatus.message.contains("expired"))
            #expect(!expiredStatus.message.contains(expired))

            let otherAudience = try server.token("acme", [.admin], audience: "billing")
            let audienceStatus = await server.status(.getServerStatus, token: otherAudience)
            #expect(audienceStatus.code == .unauthenticated)
            #expect(audienceStatus.message.contains("audience"))

            let garbage = await server.status(.getServerStatus, token: "not.a.jwt")
            #expect(garbage.code == .unauthenticated)

            let valid = try server.token("acme", [.viewer])
            #expect(await server.status(.getServerStatus, token: valid).code == .ok)
        }
    }

    @Test("a viewer calling every mutating method is PERMISSION_DENIED, and each refusal is audited")
    func viewerCannotMutate() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let viewer = try server.token("acme", [.viewer], subject: "vera")
            let mutating = MethodDescriptor.all.filter { MethodPolicy.of($0)?.isMutating == true && $0.kind == .unary }
            #expect(mutating.count > 20)
            for method in mutating {
                let status = await server.status(method, token: viewer)
                #expect(status.code == .permissionDenied, "\(method.fullName): \(status)")
            }
            let admin = try server.token("acme", [.admin])
            let records: V1.ListAuditRecordsResponse = try await server.call(
                .listAuditRecords,
                V1.ListAuditRecordsRequest(actor: "vera", page: V1.PageRequest(pageSize: 1_000)),
                token: admin)
            #expect(records.records.count == mutating.count)
            #expect(records.records.allSatisfy { $0.outcome == .denied && $0.tenantID == "acme" && $0.statusCode == 7 })
            #expect(Set(records.records.map(\.method)) == Set(mutating.map(\.fullName)))
        }
    }

    @Test("a tenant's admin reads their own tenant; another tenant is NOT_FOUND, as one that does not exist")
    func tenantIsolation() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme", "globex")
            let acmeAdmin = try server.token("acme", [.admin])
            let own: V1.GetTenantResponse = try await server.call(
                .getTenant, V1.GetTenantRequest(tenantID: "acme"), token: acmeAdmin)
            #expect(own.tenant?.id == "acme")
            let other = await server.status(.getTenant, V1.GetTenantRequest(tenantID: "globex"), token: acmeAdmin)
            let missing = await server.status(.getTenant, V1.GetTenantRequest(tenantID: "nosuch"), token: acmeAdmin)
            #expect(other.code == .notFound)
            #expect(missing.code == .notFound)
            #expect(other.message == missing.message.replacingOccurrences(of: "nosuch", with: "globex"))

            // A tenant named in the metadata must be the token's.
            let mismatch = await server.status(.getServerStatus, token: acmeAdmin, tenantHeader: "globex")
            #expect(mismatch.code == .permissionDenied)
            #expect(mismatch.message.contains("the tenant always comes from the token"))

            // A token for a tenant that does not exist is refused.
            let ghost = try server.token("ghost", [.admin])
            let ghostStatus = await server.status(.getServerStatus, token: ghost)
            #expect(ghostStatus.code == .permissionDenied)
            #expect(ghostStatus.message.contains("does not exist"))
        }
    }

    @Test("only a platform admin manages tenants; a disabled tenant's calls are refused at once")
    func platformAdministration() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let acmeAdmin = try server.token("acme", [.admin])
            let refused = await server.status(.createTenant, V1.CreateTenantRequest(tenantID: "mine"), token: acmeAdmin)
            #expect(refused.code == .permissionDenied)
            #expect(refused.message.contains("tenants.manage"))

            let platform = try server.token(nil, [.platformAdmin])
            let duplicate = await server.status(
                .createTenant, V1.CreateTenantRequest(tenantID: "acme"), token: platform)
            #expect(duplicate.code == .alreadyExists)
            let badID = await server.status(.createTenant, V1.CreateTenantRequest(tenantID: "Bad_ID"), token: platform)
            #expect(badID.code == .invalidArgument)

            #expect(await server.status(.getServerStatus, token: acmeAdmin).code == .ok)
            let disabled: V1.DisableTenantResponse = try await server.call(
                .disableTenant, V1.DisableTenantRequest(tenantID: "acme", reason: "unpaid invoice"), token: platform)
            #expect(disabled.tenant?.state == .disabled)
            let afterDisable = await server.status(.getServerStatus, token: acmeAdmin)
            #expect(afterDisable.code == .permissionDenied)
            #expect(afterDisable.message.contains("disabled: unpaid invoice"))

            let listed: V1.ListTenantsResponse = try await server.call(
                .listTenants, V1.ListTenantsRequest(state: .disabled), token: platform)
            #expect(listed.tenants.map(\.id) == ["acme"])
        }
    }

    @Test("quotas: negative or absurd values and unknown fields are refused naming them; valid ones are kept")
    func quotas() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let platform = try server.token(nil, [.platformAdmin])
            let absurd = await server.status(
                .setQuotas,
                V1.SetQuotasRequest(tenantID: "acme", quotas: V1.Quotas(submitRatePerSecond: -5)),
                token: platform)
            #expect(absurd.code == .invalidArgument)
            #expect(absurd.message.contains("submit_rate_per_second"))
            let huge = await server.status(
                .setQuotas,
                V1.SetQuotasRequest(tenantID: "acme", quotas: V1.Quotas(maxPayloadBytes: UInt64.max)),
                token: platform)
            #expect(huge.code == .invalidArgument)
            #expect(huge.message.contains("max_payload_bytes"))
            let unknown = await server.status(
                .setQuotas, V1.SetQuotasRequest(tenantID: "acme", updateMask: ["max_jobs"]), token: platform)
            #expect(unknown.code == .invalidArgument)
            #expect(unknown.message.contains("'max_jobs'"))

            let set: V1.SetQuotasResponse = try await server.call(
                .setQuotas,
                V1.SetQuotasRequest(
                    tenantID: "acme", quotas: V1.Quotas(submitRatePerSecond: 50, maxPendingJobs: 10_000),
                    updateMask: ["submit_rate_per_second", "max_pending_jobs"]),
                token: platform)
            #expect(set.quotas?.submitRatePerSecond == 50)
            let acmeAdmin = try server.token("acme", [.admin])
            let read: V1.GetQuotasResponse = try await server.call(
                .getQuotas, V1.GetQuotasRequest(tenantID: "acme"), token: acmeAdmin)
            #expect(read.quotas?.maxPendingJobs == 10_000)
            #expect(read.usage?.pendingJobs == 0)
        }
    }

    @Test("audit pages are sealed: a tampered token, or one from another tenant, is refused")
    func auditPagination() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme", "globex")
            let viewer = try server.token("acme", [.viewer], subject: "vera")
            for _ in 0..<5 {
                _ = await server.status(.submitJob, token: viewer)
            }
            let acmeAdmin = try server.token("acme", [.admin])
            var seen: [String] = []
            var pageToken = ""
            repeat {
                let page: V1.ListAuditRecordsResponse = try await server.call(
                    .listAuditRecords,
                    V1.ListAuditRecordsRequest(page: V1.PageRequest(pageSize: 2, pageToken: pageToken)),
                    token: acmeAdmin)
                seen += page.records.map(\.id)
                pageToken = page.nextPageToken
            } while !pageToken.isEmpty
            #expect(seen.count == 5)
            #expect(Set(seen).count == 5)

            let first: V1.ListAuditRecordsResponse = try await server.call(
                .listAuditRecords, V1.ListAuditRecordsRequest(page: V1.PageRequest(pageSize: 2)), token: acmeAdmin)
            var tampered = Array(first.nextPageToken)
            tampered[tampered.count / 2] = tampered[tampered.count / 2] == "A" ? "B" : "A"
            let tamperedStatus = await server.status(
                .listAuditRecords,
                V1.ListAuditRecordsRequest(page: V1.PageRequest(pageSize: 2, pageToken: String(tampered))),
                token: acmeAdmin)
            #expect(tamperedStatus.code == .invalidArgument)
            #expect(tamperedStatus.message.contains("page token"))

            let globexAdmin = try server.token("globex", [.admin])
            let foreign = await server.status(
                .listAuditRecords,
                V1.ListAuditRecordsRequest(page: V1.PageRequest(pageSize: 2, pageToken: first.nextPageToken)),
                token: globexAdmin)
            #expect(foreign.code == .invalidArgument)
            let globexRecords: V1.ListAuditRecordsResponse = try await server.call(
                .listAuditRecords, V1.ListAuditRecordsRequest(), token: globexAdmin)
            #expect(globexRecords.records.isEmpty)

            // The platform admin sees every tenant's records, its own tenant creations included.
            let platform = try server.token(nil, [.platformAdmin], subject: "root")
            let all: V1.ListAuditRecordsResponse = try await server.call(
                .listAuditRecords, V1.ListAuditRecordsRequest(page: V1.PageRequest(pageSize: 100)), token: platform)
            #expect(all.records.contains { $0.method.hasSuffix("CreateTenant") && $0.outcome == .succeeded })
            #expect(all.records.contains { $0.tenantID == "acme" && $0.outcome == .denied })
        }
    }
}
