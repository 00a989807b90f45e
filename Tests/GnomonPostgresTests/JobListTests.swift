import Foundation
import GnomonCore
import GnomonStore
import GnomonTestSupport
import Testing

/// Listing a tenant's jobs across live jobs, history and dead letters, a page at a time.
@Suite("Job list")
struct JobListTests {
    /// Every page of `filter`, `limit` jobs at a time.
    private static func allPages(
        _ fixture: JobFixture,
        _ filter: JobFilter = JobFilter(),
        limit: Int = 100,
        tenant: String = "acme"
    ) async throws -> [JobRecord] {
        var jobs: [JobRecord] = []
        var cursor: JobCursor?
        repeat {
            let position = cursor
            let page = try await fixture.tenant(tenant) { connection, store in
                try store.list(filter, after: position, limit: limit, on: connection)
            }
            #expect(page.jobs.count <= limit)
            jobs += page.jobs
            cursor = page.next
        } while cursor != nil
        return jobs
    }

    /// Whether `jobs` are strictly newest first: by creation time, then by id, both descending.
    private static func isNewestFirst(_ jobs: [JobRecord]) -> Bool {
        zip(jobs, jobs.dropFirst()).allSatisfy { newer, older in
            newer.createdAt > older.createdAt
                || (newer.createdAt == older.createdAt
                    && newer.id.uuidString.lowercased() > older.id.uuidString.lowercased())
        }
    }

    @Test("lists jobs in every state newest first, and filters by state")
    func everyState() async throws {
        try await JobFixture.with { fixture in
            var ids: [JobState: UUID] = [:]
            for state in JobState.allCases {
                ids[state] = try await fixture.makeJob(state).id
            }
            let all = try await Self.allPages(fixture)
            #expect(all.count == JobState.allCases.count)
            #expect(Dictionary(uniqueKeysWithValues: all.map { ($0.state, $0.id) }) == ids)
            #expect(Self.isNewestFirst(all))
            // Each job was created by a transaction of its own, later than the one before.
            #expect(all.map(\.state) == JobState.allCases.reversed())

            for states: Set<JobState> in [
                [.succeeded, .dead], [.pending, .running], [.cancelled], [.retryWait, .dead],
            ] {
                let listed = try await Self.allPages(fixture, JobFilter(states: states))
                #expect(Set(listed.map(\.state)) == states)
                #expect(Set(listed.map(\.id)) == Set(states.map { ids[$0]! }))
            }
        }
    }

    @Test("pages neither repeat nor skip a job while new jobs arrive and listed ones finish")
    func stablePages() async throws {
        try await JobFixture.with { fixture in
            var original: [UUID] = []
            // Several jobs share each creation time, so ties are broken by id.
            for batch in 0..<5 {
                let jobs = (0..<6).map { NewJob(queue: "batch", payloadJSON: "\(batch * 6 + $0)") }
                original += try await fixture.tenant { connection, store in
                    try store.insert(jobs, tenantID: "acme", on: connection).map(\.id)
                }
            }

            var listed: [JobRecord] = []
            var cursor: JobCursor?
            var cancelled: Set<UUID> = []
            var page = 0
            repeat {
                let position = cursor
                let result = try await fixture.tenant { connection, store in
                    try store.list(JobFilter(queue: "batch"), after: position, limit: 7, on: connection)
                }
                listed += result.jobs
                cursor = result.next
                page += 1

                // Between pages: new jobs arrive, and jobs not yet listed are cancelled or run.
                _ = try await fixture.insert(NewJob(queue: "batch", payloadJSON: "\"new\""))
                let unlisted = Set(original).subtracting(listed.map(\.id)).subtracting(cancelled)
                if let next = unlisted.first {
                    try await fixture.tenant { connection, store in
                        _ = try store.cancel(next, reason: "moved between pages", on: connection)
                    }
                    cancelled.insert(next)
                }
            } while cursor != nil

            #expect(page == 5)
            #expect(listed.map(\.id).count == Set(listed.map(\.id)).count, "a job was listed twice")
            #expect(Set(listed.map(\.id)) == Set(original))
            #expect(Self.isNewestFirst(listed))
        }
    }

    @Test("a label selector lists the jobs that carry every label given, live or finished")
    func labelSelector() async throws {
        try await JobFixture.with { fixture in
            let growthProd = try await fixture.makeJob(.pending, labels: ["team": "growth", "env": "prod"]).id
            let growthDev = try await fixture.makeJob(.dead, labels: ["team": "growth", "env": "dev"]).id
            let growthDone = try await fixture.makeJob(.succeeded, labels: ["team": "growth"]).id
            let coreProd = try await fixture.makeJob(.cancelled, labels: ["team": "core", "env": "prod"]).id
            try await fixture.makeJob(.running)

            let cases: [([String: String], Set<UUID>)] = [
                (["team": "growth"], [growthProd, growthDev, growthDone]),
                (["team": "growth", "env": "prod"], [growthProd]),
                (["env": "prod"], [growthProd, coreProd]),
                (["team": "nobody"], []),
                (["team": "growth", "env": "staging"], []),
            ]
            for (selector, expected) in cases {
                let listed = try await Self.allPages(fixture, JobFilter(labels: selector), limit: 2)
                #expect(Set(listed.map(\.id)) == expected, "selector \(selector)")
            }
            let dead = try await Self.allPages(fixture, JobFilter(states: [.dead], labels: ["team": "growth"]))
            #expect(dead.map(\.id) == [growthDev])
        }
    }

    @Test("queue, schedule and creation-time filters narrow the list")
    func otherFilters() async throws {
        try await JobFixture.with { fixture in
            let first = try await fixture.insert(NewJob(queue: "mail", scheduleID: "nightly"))
            let firstCreated = try await fixture.tenant { try $1.get(first, on: $0).createdAt }
            try await Task.sleep(for: .milliseconds(20))
            let second = try await fixture.insert(NewJob(queue: "mail"))
            let secondCreated = try await fixture.tenant { try $1.get(second, on: $0).createdAt }
            let other = try await fixture.insert(NewJob(queue: "sms", scheduleID: "nightly"))

            // Bounds between the jobs' times, which a Date holds only to about a microsecond.
            let between = firstCreated.addingTimeInterval(secondCreated.timeIntervalSince(firstCreated) / 2)
            let beforeFirst = firstCreated.addingTimeInterval(-0.001)

            #expect(Set(try await Self.allPages(fixture, JobFilter(queue: "mail")).map(\.id)) == [first, second])
            #expect(
                Set(try await Self.allPages(fixture, JobFilter(scheduleID: "nightly")).map(\.id)) == [first, other])
            #expect(
                try await Self.allPages(fixture, JobFilter(queue: "mail", createdFrom: between)).map(\.id) == [second])
            #expect(
                try await Self.allPages(fixture, JobFilter(queue: "mail", createdBefore: between)).map(\.id) == [first])
            #expect(
                try await Self.allPages(fixture, JobFilter(createdFrom: beforeFirst, createdBefore: between)).map(\.id)
                    == [first])
        }
    }

    @Test("a page size out of range or a malformed queue name is refused with what is expected")
    func invalidArguments() async throws {
        try await JobFixture.with { fixture in
            for (filter, limit, expected) in [
                (JobFilter(), 0, "expected 1 to 1000"), (JobFilter(), 1_001, "expected 1 to 1000"),
                (JobFilter(queue: "no spaces"), 10, "expected 1 to 128 characters"),
                (JobFilter(queue: ""), 10, "expected 1 to 128 characters"),
            ] {
                let error = await #expect(throws: StoreError.self) {
                    try await fixture.tenant { try $1.list(filter, limit: limit, on: $0) }
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.contains(expected) == true)
            }
        }
    }

    @Test("a cursor's token reads back as the same cursor; other text is no cursor")
    func cursorTokens() {
        let cursor = JobCursor(createdAtMicroseconds: 1_700_000_000_123_456, id: UUID())
        #expect(JobCursor(token: cursor.token) == cursor)
        for text in ["", "12", "x.\(UUID().uuidString)", "12.not-a-uuid", "1.\(UUID().uuidString).3"] {
            #expect(JobCursor(token: text) == nil)
        }
    }
}
