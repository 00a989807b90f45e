import Foundation
import GnomonStore
import GnomonTestSupport
import Testing

/// Creating, reading, changing and deleting schedules, within each tenant's own rows and quota.
@Suite("Schedule store")
struct ScheduleStoreTests {
    private static let template = #"{"queue":"reports","payload_json":{"kind":"nightly"}}"#

    private static func definition(labels: [String: String] = [:]) -> ScheduleDefinition {
        ScheduleDefinition(
            expression: "0 3 * * *", timeZone: "Europe/Berlin", jobTemplateJSON: Self.template,
            catchUpPolicy: "all", catchUpLimit: 5, overlapPolicy: "allow", jitterMilliseconds: 250,
            description: "nightly report", labels: labels)
    }

    private static func withTenants(_ body: @escaping @Sendable (PostgresPool) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let pool = PostgresPool(connectionString: database.connectionString, maximumConnections: 4)
            defer { Task { await pool.shutdown() } }
            try await pool.withPlatformTransaction { connection in
                _ = try TenantStore.create(tenantID: "acme", on: connection)
                _ = try TenantStore.create(tenantID: "globex", on: connection)
            }
            try await body(pool)
        }
    }

    private static func create(
        _ id: String,
        tenant: String = "acme",
        paused: Bool = false,
        labels: [String: String] = [:],
        limit: Int64? = nil,
        pool: PostgresPool
    ) async throws -> ScheduleRecord {
        let next = Date(timeIntervalSince1970: 1_900_000_000)
        return try await pool.withTenantTransaction(tenant) { connection in
            try ScheduleStore.create(
                scheduleID: id, definition: Self.definition(labels: labels), paused: paused, nextFireAt: next,
                shardCount: 16, scheduleLimit: limit, tenantID: tenant, on: connection)
        }
    }

    @Test("a created schedule reads back as written, in its shard, at revision 1")
    func createAndGet() async throws {
        try await Self.withTenants { pool in
            let created = try await Self.create("nightly", labels: ["team": "data"], pool: pool)
            #expect(created.definition == Self.definition(labels: ["team": "data"]).normalizingTemplate(created))
            #expect(created.shard == ScheduleStore.shard(tenantID: "acme", scheduleID: "nightly", shardCount: 16))
            #expect(created.revision == 1)
            #expect(!created.paused)
            #expect(created.nextFireAt == Date(timeIntervalSince1970: 1_900_000_000))
            #expect(created.counts == ScheduleCounts())
            let read = try await pool.withTenantTransaction("acme") {
                try ScheduleStore.get("nightly", tenantID: "acme", on: $0)
            }
            #expect(read == created)
        }
    }

    @Test("another tenant's schedule is not found, exactly like a missing one, and cannot be changed")
    func isolation() async throws {
        try await Self.withTenants { pool in
            _ = try await Self.create("nightly", pool: pool)
            for id in ["nightly", "missing"] {
                let error = await #expect(throws: StoreError.self) {
                    try await pool.withTenantTransaction("globex") {
                        try ScheduleStore.get(id, tenantID: "globex", on: $0)
                    }
                }
                #expect(error?.code == .notFound)
                #expect(error?.message == "there is no schedule '\(id)'")
            }
            let deleteError = await #expect(throws: StoreError.self) {
                try await pool.withTenantTransaction("globex") {
                    try ScheduleStore.delete("nightly", tenantID: "globex", on: $0)
                }
            }
            #expect(deleteError?.code == .notFound)
            // globex may create its own schedule of the same id.
            let theirs = try await Self.create("nightly", tenant: "globex", pool: pool)
            #expect(theirs.tenantID == "globex")
        }
    }

    @Test("a duplicate id is refused and takes no quota; the quota holds; deleting gives it back")
    func duplicatesAndQuota() async throws {
        try await Self.withTenants { pool in
            _ = try await Self.create("a", limit: 2, pool: pool)
            let duplicate = await #expect(throws: StoreError.self) {
                _ = try await Self.create("a", limit: 2, pool: pool)
            }
            #expect(duplicate?.code == .alreadyExists)
            _ = try await Self.create("b", limit: 2, pool: pool)
            let over = await #expect(throws: StoreError.self) {
                _ = try await Self.create("c", limit: 2, pool: pool)
            }
            #expect(over?.code == .quotaExceeded)
            #expect(over?.quota?.current == 2)
            try await pool.withTenantTransaction("acme") { try ScheduleStore.delete("a", tenantID: "acme", on: $0) }
            let replacement = try await Self.create("c", limit: 2, pool: pool)
            #expect(replacement.scheduleID == "c")
            let bad = await #expect(throws: StoreError.self) {
                _ = try await Self.create("no spaces", pool: pool)
            }
            #expect(bad?.code == .invalidArgument)
        }
    }

    @Test("an update naming an old revision is aborted and changes nothing; the current one applies")
    func revisions() async throws {
        try await Self.withTenants { pool in
            _ = try await Self.create("nightly", pool: pool)
            var changed = Self.definition()
            changed.expression = "30 4 * * 1-5"
            let next = Date(timeIntervalSince1970: 1_900_100_000)
            let updated = try await pool.withTenantTransaction("acme") { [changed] in
                try ScheduleStore.update(
                    "nightly", definition: changed, nextFireAt: next, expectedRevision: 1, tenantID: "acme", on: $0)
            }
            #expect(updated.revision == 2)
            #expect(updated.definition.expression == "30 4 * * 1-5")
            #expect(updated.nextFireAt == next)
            var stale = changed
            stale.expression = "@hourly"
            let conflict = await #expect(throws: StoreError.self) {
                try await pool.withTenantTransaction("acme") { [stale] in
                    try ScheduleStore.update(
                        "nightly", definition: stale, nextFireAt: nil, expectedRevision: 1, tenantID: "acme", on: $0)
                }
            }
            #expect(conflict?.code == .aborted)
            let read = try await pool.withTenantTransaction("acme") {
                try ScheduleStore.get("nightly", tenantID: "acme", on: $0)
            }
            #expect(read == updated)
        }
    }

    @Test("pausing clears the next fire time; resuming sets the one given; list filters and pages")
    func pauseResumeAndList() async throws {
        try await Self.withTenants { pool in
            for index in 0..<7 {
                _ = try await Self.create("s\(index)", labels: ["odd": index % 2 == 1 ? "yes" : "no"], pool: pool)
            }
            let paused = try await pool.withTenantTransaction("acme") {
                try ScheduleStore.setPaused(
                    true, reason: "maintenance", nextFireAt: nil, scheduleID: "s3", tenantID: "acme", on: $0)
            }
            #expect(paused.paused && paused.nextFireAt == nil && paused.pauseReason == "maintenance")
            let resumeAt = Date(timeIntervalSince1970: 1_900_200_000)
            let resumed = try await pool.withTenantTransaction("acme") {
                try ScheduleStore.setPaused(false, nextFireAt: resumeAt, scheduleID: "s3", tenantID: "acme", on: $0)
            }
            #expect(!resumed.paused && resumed.nextFireAt == resumeAt && resumed.pauseReason.isEmpty)
            _ = try await pool.withTenantTransaction("acme") {
                try ScheduleStore.setPaused(true, nextFireAt: nil, scheduleID: "s5", tenantID: "acme", on: $0)
            }

            var seen: [String] = []
            var after: String?
            repeat {
                let page = try await pool.withTenantTransaction("acme") { [after] in
                    try ScheduleStore.list(tenantID: "acme", after: after, limit: 3, on: $0)
                }
                seen += page.schedules.map(\.scheduleID)
                after = page.nextAfter
            } while after != nil
            #expect(seen == (0..<7).map { "s\($0)" })

            let pausedOnly = try await pool.withTenantTransaction("acme") {
                try ScheduleStore.list(tenantID: "acme", paused: true, after: nil, limit: 10, on: $0)
            }
            #expect(pausedOnly.schedules.map(\.scheduleID) == ["s5"])
            let odd = try await pool.withTenantTransaction("acme") {
                try ScheduleStore.list(tenantID: "acme", labels: ["odd": "yes"], after: nil, limit: 10, on: $0)
            }
            #expect(odd.schedules.map(\.scheduleID) == ["s1", "s3", "s5"])
            let none = try await pool.withTenantTransaction("globex") {
                try ScheduleStore.list(tenantID: "globex", after: nil, limit: 10, on: $0)
            }
            #expect(none.schedules.isEmpty)
        }
    }

    @Test("the shard hash is stable and spreads ids over every shard")
    func shardHash() {
        #expect(
            ScheduleStore.shard(tenantID: "acme", scheduleID: "nightly", shardCount: 16)
                == ScheduleStore.shard(tenantID: "acme", scheduleID: "nightly", shardCount: 16))
        let shards = Set(
            (0..<1_000).map { ScheduleStore.shard(tenantID: "acme", scheduleID: "s\($0)", shardCount: 16) })
        #expect(shards == Set(0..<16))
    }
}

extension ScheduleDefinition {
    /// This definition with the template as PostgreSQL normalised it in `record`.
    fileprivate func normalizingTemplate(_ record: ScheduleRecord) -> ScheduleDefinition {
        var copy = self
        copy.jobTemplateJSON = record.definition.jobTemplateJSON
        return copy
    }
}
