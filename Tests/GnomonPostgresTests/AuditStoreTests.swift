import Foundation
import GnomonStore
import GnomonTestSupport
import Testing

/// Appending to and listing the audit log, in tenants' and platform transactions.
@Suite("Audit store")
struct AuditStoreTests {
    /// Runs `body` with a pool on a fresh migrated database, and the database itself.
    private func withPool(_ body: (PostgresPool, TestDatabase) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await database.withPool(maximumConnections: 2) { try await body($0, database) }
        }
    }

    private static func record(
        tenant: String?,
        method: String = "gnomon.v1.JobService/SubmitJob",
        outcome: AuditOutcome = .succeeded,
        resourceID: String = ""
    ) -> AuditRecord {
        AuditRecord(
            tenantID: tenant,
            actor: "alice",
            roles: ["job-writer", "odd, \"quoted\" {role}"],
            method: method,
            resourceType: "job",
            resourceID: resourceID,
            outcome: outcome,
            statusCode: outcome == .succeeded ? 0 : 7,
            requestID: "req-1",
            clientAddress: "192.0.2.7:5123"
        )
    }

    /// Lists every page of `filter` in a tenant's (or, when nil, a platform) transaction.
    private static func listAll(
        _ filter: AuditFilter = AuditFilter(),
        as tenant: String?,
        pageSize: Int,
        on pool: PostgresPool,
        betweenPages: () async throws -> Void = {}
    ) async throws -> [[AuditEntry]] {
        var pages: [[AuditEntry]] = []
        var after: AuditCursor?
        repeat {
            let list: @Sendable (PostgresConnection) throws -> (entries: [AuditEntry], next: AuditCursor?) = {
                [after] in try AuditStore.list(filter, after: after, limit: pageSize, on: $0)
            }
            let page =
                if let tenant {
                    try await pool.withTenantTransaction(tenant, list)
                } else {
                    try await pool.withPlatformTransaction(list)
                }
            pages.append(page.entries)
            after = page.next
            try await betweenPages()
        } while after != nil
        return pages
    }

    @Test("an appended record lists back with every field, its id and its time, now")
    func appendAndList() async throws {
        try await self.withPool { pool, _ in
            let record = Self.record(tenant: "acme", resourceID: "0b9a3c7e")
            let appended = try await pool.withTenantTransaction("acme") { try AuditStore.append(record, on: $0) }
            #expect(appended.record == record)
            #expect(abs(appended.at.timeIntervalSinceNow) < 60)

            let listed = try await pool.withTenantTransaction("acme") { try AuditStore.list(on: $0) }
            #expect(listed.entries == [appended])
            #expect(listed.next == nil)
        }
    }

    @Test("records with no tenant are written and read in platform transactions only")
    func platformRecords() async throws {
        try await self.withPool { pool, _ in
            let anonymous = AuditRecord(
                tenantID: nil, actor: "anonymous", method: "gnomon.v1.JobService/SubmitJob", outcome: .denied,
                statusCode: 16)
            let entry = try await AuditStore.append(anonymous, using: pool)
            try await AuditStore.append(Self.record(tenant: "acme"), using: pool)

            let all = try await pool.withPlatformTransaction { try AuditStore.list(on: $0).entries }
            #expect(all.count == 2)
            #expect(all.contains(entry))
            let acme = try await pool.withTenantTransaction("acme") { try AuditStore.list(on: $0).entries }
            #expect(acme.map(\.record.tenantID) == ["acme"])

            let error = await #expect(throws: StoreError.self) {
                try await pool.withTenantTransaction("acme") { try AuditStore.append(anonymous, on: $0) }
            }
            #expect(error?.code == .insufficientPrivilege)
            #expect(error?.message.contains("without a tenant needs a platform transaction") == true)
        }
    }

    @Test("a tenant sees its own records only, and cannot append records for another tenant")
    func tenantIsolation() async throws {
        try await self.withPool { pool, _ in
            try await AuditStore.append(Self.record(tenant: "acme"), using: pool)
            try await AuditStore.append(Self.record(tenant: "globex"), using: pool)
            try await AuditStore.append(Self.record(tenant: "globex"), using: pool)

            let seen = try await pool.withTenantTransaction("acme") { connection in
                [
                    try AuditStore.list(on: connection).entries,
                    try AuditStore.list(AuditFilter(tenantID: "globex"), on: connection).entries,
                ]
            }
            #expect(seen[0].map(\.record.tenantID) == ["acme"])
            #expect(seen[1].isEmpty)
            let globex = try await pool.withPlatformTransaction {
                try AuditStore.list(AuditFilter(tenantID: "globex"), on: $0).entries
            }
            #expect(globex.count == 2)

            let error = await #expect(throws: StoreError.self) {
                try await pool.withTenantTransaction("acme") {
                    try AuditStore.append(Self.record(tenant: "globex"), on: $0)
                }
            }
            #expect(error?.code == .insufficientPrivilege)
        }
    }

    @Test("pages run newest first, each record on exactly one page, while records keep arriving")
    func stablePages() async throws {
        try await self.withPool { pool, _ in
            let appended = try await pool.withTenantTransaction("acme") { connection in
                try (0..<25).map { index in
                    try AuditStore.append(Self.record(tenant: "acme", resourceID: "job-\(index)"), on: connection)
                }
            }
            // Records appended between pages are newer than the cursor, so they never show.
            let pages = try await Self.listAll(as: "acme", pageSize: 10, on: pool) {
                try await AuditStore.append(Self.record(tenant: "acme", resourceID: "late"), using: pool)
            }
            #expect(pages.map(\.count) == [10, 10, 5])
            let listed = pages.flatMap { $0 }
            #expect(listed.map(\.id) == appended.reversed().map(\.id))
            #expect(listed.map(\.record.resourceID) == (0..<25).reversed().map { "job-\($0)" })
            #expect(
                zip(listed, listed.dropFirst()).allSatisfy { ($0.at, $0.id.uuidString) > ($1.at, $1.id.uuidString) })

            let platformPages = try await Self.listAll(as: nil, pageSize: 7, on: pool)
            #expect(platformPages.flatMap { $0 }.count == 28)
            #expect(Set(platformPages.flatMap { $0 }.map(\.id)).count == 28)
        }
    }

    @Test("filters by method, outcome, resource, actor and time range")
    func filters() async throws {
        try await self.withPool { pool, _ in
            let (before, cancel, denied) = try await pool.withTenantTransaction("acme") { connection in
                let before = try AuditStore.append(Self.record(tenant: "acme"), on: connection)
                let cancel = try AuditStore.append(
                    Self.record(tenant: "acme", method: "gnomon.v1.JobService/CancelJob", resourceID: "j1"),
                    on: connection)
                let denied = try AuditStore.append(Self.record(tenant: "acme", outcome: .denied), on: connection)
                return (before, cancel, denied)
            }
            let results = try await pool.withTenantTransaction("acme") { connection in
                try [
                    AuditFilter(method: "gnomon.v1.JobService/CancelJob"),
                    AuditFilter(outcome: .denied),
                    AuditFilter(resourceID: "j1"),
                    AuditFilter(actor: "bob"),
                    AuditFilter(from: cancel.at),
                    AuditFilter(before: cancel.at),
                    AuditFilter(from: before.at, before: denied.at),
                ].map { try AuditStore.list($0, on: connection).entries.map(\.id) }
            }
            #expect(results[0] == [cancel.id])
            #expect(results[1] == [denied.id])
            #expect(results[2] == [cancel.id])
            #expect(results[3].isEmpty)
            #expect(results[4] == [denied.id, cancel.id])
            #expect(results[5] == [before.id])
            #expect(results[6] == [cancel.id, before.id])
        }
    }

    @Test("a record appended in a transaction that rolls back is gone with it")
    func rolledBack() async throws {
        struct Abort: Error {}
        try await self.withPool { pool, _ in
            await #expect(throws: Abort.self) {
                try await pool.withTenantTransaction("acme") { connection in
                    try AuditStore.append(Self.record(tenant: "acme"), on: connection)
                    throw Abort()
                }
            }
            let listed = try await pool.withPlatformTransaction { try AuditStore.list(on: $0).entries }
            #expect(listed.isEmpty)
        }
    }

    @Test("with this month's partition gone, appending says to run upkeep, which restores it")
    func missingPartition() async throws {
        try await self.withPool { pool, database in
            try await database.withConnection { connection in
                let partition = try connection.query(
                    "SELECT 'gnomon_audit_log_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM') AS name"
                ).first!.string("name")
                try connection.execute(script: "DROP TABLE \(partition)")
            }
            let error = await #expect(throws: StoreError.self) {
                try await AuditStore.append(Self.record(tenant: "acme"), using: pool)
            }
            #expect(error?.code == .partitionMissing)
            #expect(error?.message.contains("PartitionUpkeep.run") == true)

            let report = try await pool.withPlatformTransaction { try PartitionUpkeep.run(on: $0, now: Date()) }
            #expect(report.created.contains { $0.hasPrefix("gnomon_audit_log_") })
            try await AuditStore.append(Self.record(tenant: "acme"), using: pool)
        }
    }

    @Test("a tenant id no tenant can have, a negative status or a bad page size is refused")
    func badInput() async throws {
        try await self.withPool { pool, _ in
            var badTenant = Self.record(tenant: nil)
            badTenant.tenantID = "Not A Tenant"
            var badStatus = Self.record(tenant: nil)
            badStatus.statusCode = -1
            for record in [badTenant, badStatus] {
                let error = await #expect(throws: StoreError.self) {
                    try await pool.withPlatformTransaction { try AuditStore.append(record, on: $0) }
                }
                #expect(error?.code == .invalidArgument)
            }
            let error = await #expect(throws: StoreError.self) {
                try await pool.withPlatformTransaction { _ = try AuditStore.list(limit: 1_001, on: $0) }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("expected 1 to 1000") == true)
        }
    }

    @Test("overlong fields are stored cut to their limits rather than refused")
    func overlongFields() async throws {
        try await self.withPool { pool, _ in
            var record = Self.record(tenant: "acme")
            record.requestID = String(repeating: "r", count: 10_000)
            let entry = try await AuditStore.append(record, using: pool)
            let listed = try await pool.withTenantTransaction("acme") { try AuditStore.list(on: $0).entries }
            #expect(listed == [entry])
            #expect(listed.first?.record.requestID.count == AuditRecord.Limit.requestID)
        }
    }
}
