import Foundation
import GnomonCore
import GnomonStore
import GnomonTestSupport
import Testing

/// Listing and redriving the dead-letter queue in tenants' transactions.
@Suite("Dead-letter store")
struct DeadLetterStoreTests {
    /// Every page of dead jobs, `limit` at a time.
    private static func allPages(
        _ fixture: JobFixture,
        queue: String? = nil,
        labels: [String: String] = [:],
        limit: Int = 100,
        tenant: String = "acme"
    ) async throws -> [DeadLetter] {
        var letters: [DeadLetter] = []
        var cursor: DeadLetterCursor?
        repeat {
            let position = cursor
            let page = try await fixture.tenant(tenant) { connection, _ in
                try DeadLetterStore.list(queue: queue, labels: labels, after: position, limit: limit, on: connection)
            }
            #expect(page.deadLetters.count <= limit)
            letters += page.deadLetters
            cursor = page.next
        } while cursor != nil
        return letters
    }

    private static func redrive(
        _ fixture: JobFixture,
        _ selection: DeadLetterSelection,
        limit: Int = 1_000,
        resetAttempts: Bool = false,
        delay: Duration = .zero,
        pendingLimit: Int64? = nil
    ) async throws -> RedriveOutcome {
        try await fixture.tenant { connection, _ in
            try DeadLetterStore.redrive(
                selection, tenantID: "acme", limit: limit, resetAttempts: resetAttempts, delay: delay,
                pendingLimit: pendingLimit, on: connection)
        }
    }

    @Test("lists dead jobs most recently dead first, with the attempt that killed them, by queue and labels")
    func list() async throws {
        try await JobFixture.with { fixture in
            let billing = try await fixture.makeDeadJobs(5, queue: "billing") {
                ["kind": $0.isMultiple(of: 2) ? "a" : "b"]
            }
            let mail = try await fixture.makeDeadJobs(2, queue: "mail") { _ in ["kind": "a"] }
            _ = try await fixture.insert(NewJob(queue: "billing"))

            let listed = try await Self.allPages(fixture, queue: "billing", limit: 2)
            #expect(listed.map(\.job.id) == billing.reversed())
            for letter in listed {
                #expect(letter.job.state == .dead)
                #expect(letter.job.queue == "billing")
                #expect(letter.job.lastError == "broken")
                #expect(letter.job.finishedAt == letter.deadAt)
                #expect(letter.lastAttempt.number == 1)
                #expect(letter.lastAttempt.outcome == .failedFinal)
                #expect(letter.lastAttempt.workerID == "worker-1")
                #expect(letter.lastAttempt.errorMessage == "broken")
                #expect(letter.lastAttempt.httpStatus == nil)
                #expect(letter.lastAttempt.startedAt <= letter.lastAttempt.finishedAt)
                #expect(abs(letter.expiresAt.timeIntervalSince(letter.deadAt) - 14 * 86_400) < 1)
            }
            #expect(Set(try await Self.allPages(fixture).map(\.job.id)) == Set(billing + mail))
            #expect(
                try await Self.allPages(fixture, labels: ["kind": "a"]).map(\.job.id)
                    == [mail[1], mail[0], billing[4], billing[2], billing[0]])
            #expect(try await Self.allPages(fixture, queue: "billing", labels: ["kind": "b"]).count == 2)
            #expect(try await Self.allPages(fixture, queue: "sms").isEmpty)
        }
    }

    @Test("redrives chosen jobs back to pending, due now, attempts reset when asked")
    func redriveByID() async throws {
        try await JobFixture.with { fixture in
            let dead = try await fixture.makeDeadJobs(4, queue: "billing")
            let outcome = try await Self.redrive(
                fixture, DeadLetterSelection(jobIDs: [dead[2], dead[0]]), resetAttempts: true)
            #expect(outcome.jobIDs == [dead[0], dead[2]])
            #expect(outcome.count == 2)
            #expect(!outcome.more)

            for id in [dead[0], dead[2]] {
                let job = try await fixture.tenant { try $1.get(id, on: $0) }
                #expect(job.state == .pending)
                #expect(job.attempts == 0)
                #expect(job.lastError == "broken")
                #expect(job.finishedAt == nil)
                #expect(abs(try #require(job.dueAt).timeIntervalSinceNow) < 60)
            }
            #expect(Set(try await Self.allPages(fixture).map(\.job.id)) == [dead[1], dead[3]])
            let kept = try await Self.redrive(fixture, DeadLetterSelection(jobIDs: [dead[1]]))
            #expect(try await fixture.tenant { try $1.get(dead[1], on: $0) }.attempts == 1)
            #expect(kept.jobIDs == [dead[1]])
            try await fixture.expectCountersExact()
            #expect(try await fixture.usage().liveJobs == 3)
        }
    }

    @Test("redrives a queue up to the limit, oldest dead first, and says whether more remain")
    func redriveByQueue() async throws {
        try await JobFixture.with { fixture in
            let dead = try await fixture.makeDeadJobs(5, queue: "billing")
            let mail = try await fixture.makeDeadJobs(1, queue: "mail")
            let selection = DeadLetterSelection(queue: "billing")

            let first = try await Self.redrive(fixture, selection, limit: 2, delay: .seconds(120))
            #expect(first == RedriveOutcome(jobIDs: Array(dead[0..<2]), more: true))
            let due = try #require(try await fixture.tenant { try $1.get(dead[0], on: $0) }.dueAt)
            #expect(abs(due.timeIntervalSinceNow - 120) < 60)

            #expect(
                try await Self.redrive(fixture, selection, limit: 2)
                    == RedriveOutcome(jobIDs: Array(dead[2..<4]), more: true))
            #expect(
                try await Self.redrive(fixture, selection, limit: 2) == RedriveOutcome(jobIDs: [dead[4]], more: false))
            #expect(try await Self.redrive(fixture, selection, limit: 2) == RedriveOutcome(jobIDs: [], more: false))
            #expect(try await Self.allPages(fixture).map(\.job.id) == mail)
            try await fixture.expectCountersExact()
        }
    }

    @Test("a redrive the pending quota refuses moves nothing")
    func redriveOverQuota() async throws {
        try await JobFixture.with { fixture in
            let dead = try await fixture.makeDeadJobs(3, queue: "billing")
            let error = await #expect(throws: StoreError.self) {
                try await Self.redrive(fixture, DeadLetterSelection(), pendingLimit: 2)
            }
            #expect(error?.code == .quotaExceeded)
            #expect(error?.quota == QuotaViolation(quota: "max_pending_jobs", limit: 2, current: 0, requested: 3))
            #expect(Set(try await Self.allPages(fixture).map(\.job.id)) == Set(dead))
            try await fixture.expectCountersExact()
            #expect(try await fixture.usage() == TenantUsage())

            let outcome = try await Self.redrive(fixture, DeadLetterSelection(), pendingLimit: 3)
            #expect(outcome.count == 3)
        }
    }

    @Test("a tenant lists and redrives only its own dead jobs")
    func tenantIsolation() async throws {
        try await JobFixture.with { fixture in
            let theirs = try await fixture.makeDeadJobs(2, queue: "billing", tenant: "globex")
            let ours = try await fixture.makeDeadJobs(1, queue: "billing")

            #expect(try await Self.allPages(fixture).map(\.job.id) == ours)
            let byID = try await Self.redrive(fixture, DeadLetterSelection(jobIDs: theirs))
            #expect(byID == RedriveOutcome(jobIDs: [], more: false))
            let asThem = try await fixture.tenant { connection, _ in
                try DeadLetterStore.redrive(DeadLetterSelection(), tenantID: "globex", on: connection)
            }
            #expect(asThem == RedriveOutcome(jobIDs: [], more: false))
            #expect(Set(try await Self.allPages(fixture, tenant: "globex").map(\.job.id)) == Set(theirs))
            try await fixture.expectCountersExact("globex")
        }
    }

    @Test("a limit, delay or queue name out of range is refused with what is expected")
    func invalidArguments() async throws {
        try await JobFixture.with { fixture in
            let cases: [(Int, Duration, String?, String)] = [
                (0, .zero, nil, "expected 1 to 1000"), (1_001, .zero, nil, "expected 1 to 1000"),
                (10, .seconds(-1), nil, "expected zero up to 366 days"),
                (10, .zero, "bad queue", "expected 1 to 128 characters"),
            ]
            for (limit, delay, queue, expected) in cases {
                let error = await #expect(throws: StoreError.self) {
                    try await Self.redrive(fixture, DeadLetterSelection(queue: queue), limit: limit, delay: delay)
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.contains(expected) == true)
            }
            let error = await #expect(throws: StoreError.self) {
                try await fixture.tenant { connection, _ in try DeadLetterStore.list(limit: 0, on: connection) }
            }
            #expect(error?.code == .invalidArgument)

            let cursor = DeadLetterCursor(deadAtMicroseconds: 42, id: UUID())
            #expect(DeadLetterCursor(token: cursor.token) == cursor)
            #expect(DeadLetterCursor(token: "42") == nil)
        }
    }
}
