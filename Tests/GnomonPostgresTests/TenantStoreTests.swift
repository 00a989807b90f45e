import Foundation
import GnomonStore
import GnomonTestSupport
import Testing

/// Tenants and their quotas, through the pool's platform and tenant transactions.
@Suite("Tenant store")
struct TenantStoreTests {
    /// Runs `body` with a pool on a fresh migrated database.
    private func withPool(_ body: (PostgresPool) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await database.withPool(maximumConnections: 2) { try await body($0) }
        }
    }

    @Test("a created tenant is active, has its quotas and zero usage, and reads back alike")
    func createAndGet() async throws {
        try await self.withPool { pool in
            let quotas = TenantQuotas(submitRatePerSecond: 2.5, submitBurst: 20, maxPendingJobs: 1_000, maxSecrets: 7)
            let created = try await pool.withPlatformTransaction { connection in
                try TenantStore.create(tenantID: "acme", displayName: "Acme Corp", quotas: quotas, on: connection)
            }
            #expect(created.id == "acme")
            #expect(created.displayName == "Acme Corp")
            #expect(created.state == .active)
            #expect(created.disabledReason == "")
            #expect(created.quotas == quotas)
            #expect(created.usage == TenantUsage())
            #expect(abs(created.createdAt.timeIntervalSinceNow) < 60)
            #expect(created.updatedAt == created.createdAt)

            let read = try await pool.withPlatformTransaction { try TenantStore.get("acme", on: $0) }
            #expect(read == created)
        }
    }

    @Test("a second tenant with the same id is refused with alreadyExists")
    func duplicate() async throws {
        try await self.withPool { pool in
            try await pool.withPlatformTransaction { _ = try TenantStore.create(tenantID: "acme", on: $0) }
            let error = await #expect(throws: StoreError.self) {
                try await pool.withPlatformTransaction { _ = try TenantStore.create(tenantID: "acme", on: $0) }
            }
            #expect(error?.code == .alreadyExists)
            #expect(error?.message.contains("'acme'") == true)
        }
    }

    @Test(
        "an id the schema's domain refuses is an invalid argument that says what is expected",
        arguments: ["Acme", "1acme", "", "acme_corp", String(repeating: "a", count: 64)]
    )
    func invalidID(id: String) async throws {
        try await self.withPool { pool in
            let error = await #expect(throws: StoreError.self) {
                try await pool.withPlatformTransaction { _ = try TenantStore.create(tenantID: id, on: $0) }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("expected 1 to 63 characters") == true)
            #expect(!TenantStore.isValidID(id))
        }
    }

    @Test("quotas out of range are refused before anything is written, naming each")
    func invalidQuotas() async throws {
        try await self.withPool { pool in
            let quotas = TenantQuotas(submitRatePerSecond: .nan, maxPayloadBytes: 1 << 40)
            let error = await #expect(throws: StoreError.self) {
                try await pool.withPlatformTransaction {
                    _ = try TenantStore.create(tenantID: "acme", quotas: quotas, on: $0)
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("submit_rate_per_second is nan") == true)
            #expect(error?.message.contains("max_payload_bytes is 1099511627776") == true)
            let listed = try await pool.withPlatformTransaction { try TenantStore.list(on: $0).tenants }
            #expect(listed.isEmpty)
        }
    }

    @Test("listing pages through tenants in id order, and filters by state")
    func listPages() async throws {
        try await self.withPool { pool in
            let ids = (1...7).map { "tenant-\($0)" }
            try await pool.withPlatformTransaction { connection in
                for id in ids.shuffled() {
                    _ = try TenantStore.create(tenantID: id, on: connection)
                }
                _ = try TenantStore.disable("tenant-2", reason: "unpaid", on: connection)
                _ = try TenantStore.disable("tenant-6", reason: "unpaid", on: connection)
            }

            var pages: [[String]] = []
            var after: String?
            repeat {
                let page = try await pool.withPlatformTransaction { [after] connection in
                    try TenantStore.list(after: after, limit: 3, on: connection)
                }
                pages.append(page.tenants.map(\.id))
                after = page.nextAfter
            } while after != nil
            #expect(pages == [Array(ids[0..<3]), Array(ids[3..<6]), [ids[6]]])

            let disabled = try await pool.withPlatformTransaction {
                try TenantStore.list(state: .disabled, on: $0)
            }
            #expect(disabled.tenants.map(\.id) == ["tenant-2", "tenant-6"])
            #expect(disabled.nextAfter == nil)

            let error = await #expect(throws: StoreError.self) {
                try await pool.withPlatformTransaction { _ = try TenantStore.list(limit: 0, on: $0) }
            }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test("a page exactly filling the limit at the end says there is no next page")
    func exactLastPage() async throws {
        try await self.withPool { pool in
            let page = try await pool.withPlatformTransaction { connection in
                for id in ["a1", "a2"] {
                    _ = try TenantStore.create(tenantID: id, on: connection)
                }
                return try TenantStore.list(limit: 2, on: connection)
            }
            #expect(page.tenants.map(\.id) == ["a1", "a2"])
            #expect(page.nextAfter == nil)
        }
    }

    @Test("update changes only what it is given; reactivating clears the reason")
    func update() async throws {
        try await self.withPool { pool in
            let (renamed, disabled, reactivated) = try await pool.withPlatformTransaction { connection in
                _ = try TenantStore.create(tenantID: "acme", displayName: "Acme", on: connection)
                let renamed = try TenantStore.update("acme", displayName: "Acme Corp", on: connection)
                let disabled = try TenantStore.disable("acme", reason: "abuse report 17", on: connection)
                let reactivated = try TenantStore.update("acme", state: .active, on: connection)
                return (renamed, disabled, reactivated)
            }
            #expect(renamed.displayName == "Acme Corp")
            #expect(renamed.state == .active)
            #expect(disabled.state == .disabled)
            #expect(disabled.disabledReason == "abuse report 17")
            #expect(disabled.displayName == "Acme Corp")
            #expect(reactivated.state == .active)
            #expect(reactivated.disabledReason == "")
        }
    }

    @Test("disabling needs a reason, and a tenant that does not exist is notFound")
    func disableAndMissing() async throws {
        try await self.withPool { pool in
            try await pool.withPlatformTransaction { _ = try TenantStore.create(tenantID: "acme", on: $0) }
            let empty = await #expect(throws: StoreError.self) {
                try await pool.withPlatformTransaction { _ = try TenantStore.disable("acme", reason: "  ", on: $0) }
            }
            #expect(empty?.code == .invalidArgument)
            #expect(empty?.message.contains("reason is required") == true)

            let operations: [@Sendable (PostgresConnection) throws -> Void] = [
                { _ = try TenantStore.get("globex", on: $0) },
                { _ = try TenantStore.update("globex", displayName: "G", on: $0) },
                { _ = try TenantStore.disable("globex", reason: "r", on: $0) },
                { _ = try TenantStore.setQuotas(TenantQuotas(), for: "globex", on: $0) },
            ]
            for operation in operations {
                let error = await #expect(throws: StoreError.self) {
                    try await pool.withPlatformTransaction { try operation($0) }
                }
                #expect(error?.code == .notFound)
                #expect(error?.message.contains("'globex'") == true)
            }
        }
    }

    @Test("setting some quotas leaves the others as they were")
    func partialQuotas() async throws {
        try await self.withPool { pool in
            let (partial, full) = try await pool.withPlatformTransaction { connection in
                let initial = TenantQuotas(submitRatePerSecond: 5, submitBurst: 10, maxPendingJobs: 100)
                _ = try TenantStore.create(tenantID: "acme", quotas: initial, on: connection)
                // Values outside the fields named are neither checked nor written.
                let update = TenantQuotas(submitRatePerSecond: -1, maxPendingJobs: 500, maxSchedules: 3)
                let partial = try TenantStore.setQuotas(
                    update, for: "acme", fields: [.maxPendingJobs, .maxSchedules], on: connection)
                let full = try TenantStore.setQuotas(TenantQuotas(maxSecrets: 4), for: "acme", on: connection)
                return (partial, full)
            }
            #expect(
                partial == TenantQuotas(submitRatePerSecond: 5, submitBurst: 10, maxPendingJobs: 500, maxSchedules: 3))
            #expect(full == TenantQuotas(maxSecrets: 4))

            let error = await #expect(throws: StoreError.self) {
                try await pool.withPlatformTransaction {
                    try TenantStore.setQuotas(
                        TenantQuotas(submitBurst: 20_000_000), for: "acme", fields: [.submitBurst], on: $0)
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("submit_burst is 20000000; expected 0") == true)
        }
    }

    @Test("a tenant reads its own row and quotas, but no other tenant's, and cannot administer")
    func tenantView() async throws {
        try await self.withPool { pool in
            try await pool.withPlatformTransaction { connection in
                _ = try TenantStore.create(tenantID: "acme", quotas: TenantQuotas(maxSchedules: 9), on: connection)
                _ = try TenantStore.create(tenantID: "globex", on: connection)
            }
            let (own, quotas, listed) = try await pool.withTenantTransaction("acme") { connection in
                (
                    try TenantStore.get("acme", on: connection),
                    try TenantStore.quotas(for: "acme", on: connection),
                    try TenantStore.list(on: connection).tenants.map(\.id)
                )
            }
            #expect(own.id == "acme")
            #expect(quotas.maxSchedules == 9)
            #expect(listed == ["acme"])

            let hidden = await #expect(throws: StoreError.self) {
                try await pool.withTenantTransaction("acme") { _ = try TenantStore.get("globex", on: $0) }
            }
            #expect(hidden?.code == .notFound)

            let operations: [@Sendable (PostgresConnection) throws -> Void] = [
                { _ = try TenantStore.create(tenantID: "initech", on: $0) },
                { _ = try TenantStore.update("acme", displayName: "mine", on: $0) },
                { _ = try TenantStore.setQuotas(TenantQuotas(maxSchedules: 1_000), for: "acme", on: $0) },
            ]
            for operation in operations {
                let error = await #expect(throws: StoreError.self) {
                    try await pool.withTenantTransaction("acme") { try operation($0) }
                }
                #expect(error?.code == .insufficientPrivilege)
                #expect(error?.message.contains("withPlatformTransaction") == true)
            }
        }
    }
}
