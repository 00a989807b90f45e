import Foundation
import GnomonCore
import GnomonTestSupport
import Testing

@testable import GnomonStore

/// When a lease stream with room next looks for due jobs: the earliest waiting job of its
/// tenant's queues, read along that tenant's own index range.
@Suite("Next due time")
struct NextDueTimeTests {
    @Test("the earliest waiting job of the tenant's queues, over every priority; other tenants' jobs do not count")
    func earliestOverPriorities() async throws {
        try await JobFixture.with { fixture in
            let now = Date()
            @Sendable func job(_ queue: String, inSeconds seconds: Double, priority: Int = 0) -> NewJob {
                NewJob(queue: queue, runAt: now.addingTimeInterval(seconds), priority: priority)
            }
            _ = try await fixture.tenant { connection, store in
                try store.insert(
                    [
                        job("a", inSeconds: 600, priority: 5), job("a", inSeconds: 60),
                        job("a", inSeconds: 300, priority: -3), job("b", inSeconds: 120),
                        job("b", inSeconds: 900, priority: 1000),
                    ],
                    tenantID: "acme", on: connection)
            }
            _ = try await fixture.tenant("globex") { connection, store in
                try store.insert([job("a", inSeconds: 10)], tenantID: "globex", on: connection)
            }
            func nextDue(_ queues: [String]) async throws -> TimeInterval? {
                try await fixture.tenant { connection, store in
                    try store.nextDueTime(tenantID: "acme", queues: queues, on: connection)?.timeIntervalSince(now)
                }
            }
            let both = try #require(try await nextDue(["a", "b"]))
            #expect(abs(both - 60) < 0.01, "\(both)")
            let b = try #require(try await nextDue(["b"]))
            #expect(abs(b - 120) < 0.01, "\(b)")
            let missing = try await nextDue(["c"])
            #expect(missing == nil)
            let none = try await nextDue([])
            #expect(none == nil)

            // A job of the lowest priority level is found below the others.
            _ = try await fixture.tenant { connection, store in
                try store.insert([job("a", inSeconds: 5, priority: -1000)], tenantID: "acme", on: connection)
            }
            let lowest = try #require(try await nextDue(["a"]))
            #expect(abs(lowest - 5) < 0.01, "\(lowest)")
        }
    }

    @Test("beside another tenant's many earlier jobs, the next due time never walks the all-tenant due index")
    func planIgnoresOtherTenants() async throws {
        try await JobFixture.with { fixture in
            let early = Date().addingTimeInterval(-3_600)
            for _ in 0..<20 {
                _ = try await fixture.tenant("globex") { connection, store in
                    try store.insert(
                        Array(repeating: NewJob(queue: "a", runAt: early), count: 1_000), tenantID: "globex",
                        on: connection)
                }
            }
            _ = try await fixture.insert(NewJob(queue: "a", runAt: Date().addingTimeInterval(60)))
            let plans = try await fixture.database.withConnection { connection in
                try connection.execute(script: "ANALYZE gnomon_jobs")
                let dueIndexes = try connection.query(
                    """
                    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'gnomon_jobs_due_idx'::regclass
                    """
                ).rows.map { try $0.string("name") }
                var plans: [String: String] = [:]
                for mode in ["force_custom_plan", "force_generic_plan"] {
                    try connection.execute(
                        script: """
                            SET plan_cache_mode = \(mode);
                            PREPARE next_due (text, text) AS \(JobStore.nextDueSQL);
                            """
                    )
                    let plan = try connection.query("EXPLAIN EXECUTE next_due('acme', '{a}')").rows
                        .compactMap { $0[0] }.joined(separator: "\n")
                    try connection.execute(script: "DEALLOCATE next_due; RESET plan_cache_mode")
                    #expect(!dueIndexes.contains { plan.contains($0 + " ") }, "\(mode): \(plan)")
                    #expect(!plan.contains("Seq Scan"), "\(mode): \(plan)")
                    plans[mode] = plan
                }
                return plans
            }
            #expect(plans.count == 2)
        }
    }
}
