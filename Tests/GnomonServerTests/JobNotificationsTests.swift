import Foundation
import GnomonCore
import Synchronization
import Testing

@testable import GnomonServer

/// How lease streams follow their jobs' cancellations, without a database: notifications
/// are handed to the listener's delivery directly.
///
/// Waits that should end are bounded far from their deadlines: other suites in this process
/// may keep the cooperative pool busy for many seconds on a loaded machine.
@Suite("Job notifications: cancellations")
struct JobNotificationsTests {
    /// A wait running in the background, and whether it has returned.
    private final class BackgroundWait: Sendable {
        private let returned = Synchronization.Mutex(false)
        private let task = Synchronization.Mutex<Task<Void, Never>?>(nil)

        init(
            _ notifications: JobNotifications, stream: UInt64, hungry: Bool = false,
            for duration: Duration = .seconds(600)
        ) {
            let task = Task { [self] in
                await notifications.wait(
                    tenantID: "acme", queues: ["emails"], stream: stream, hungry: hungry, until: .now + duration)
                self.returned.withLock { $0 = true }
            }
            self.task.withLock { $0 = task }
        }

        /// Whether the wait returns within `timeout`.
        func returns(within timeout: Duration) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if self.returned.withLock({ $0 }) {
                    return true
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return self.returned.withLock { $0 }
        }

        func cancel() {
            self.task.withLock { $0?.cancel() }
        }
    }

    private static func notifications() -> JobNotifications {
        JobNotifications(connectionString: "unused", logger: .disabled)
    }

    @Test("a cancelled job wakes the waiting stream that follows it, and no other")
    func wakesFollower() async throws {
        let notifications = Self.notifications()
        let job = UUID()
        let follower = notifications.openStream()
        let bystander = notifications.openStream()
        notifications.follow([job, UUID()], stream: follower)
        notifications.follow([UUID()], stream: bystander)
        let followerWait = BackgroundWait(notifications, stream: follower)
        let bystanderWait = BackgroundWait(notifications, stream: bystander)
        defer { bystanderWait.cancel() }
        defer { followerWait.cancel() }
        // Let both register before the cancellation arrives.
        try await Task.sleep(for: .milliseconds(100))

        notifications.deliverCancellation(job.uuidString.lowercased())
        let followerWoke = await followerWait.returns(within: .seconds(120))
        #expect(followerWoke)
        let bystanderWoke = await bystanderWait.returns(within: .milliseconds(200))
        #expect(!bystanderWoke)
    }

    @Test("a new job wakes the hungry stream waiting longest and every full one; a stream that fills passes it on")
    func wakesOneHungryStream() async throws {
        let notifications = Self.notifications()
        let first = notifications.openStream(tenantID: "acme", queues: ["emails"])
        let second = notifications.openStream(tenantID: "acme", queues: ["emails"])
        let full = notifications.openStream(tenantID: "acme", queues: ["emails"])
        let firstWait = BackgroundWait(notifications, stream: first, hungry: true)
        defer { firstWait.cancel() }
        try await Task.sleep(for: .milliseconds(50))
        let secondWait = BackgroundWait(notifications, stream: second, hungry: true)
        defer { secondWait.cancel() }
        let fullWait = BackgroundWait(notifications, stream: full)
        defer { fullWait.cancel() }
        try await Task.sleep(for: .milliseconds(100))

        notifications.deliver("acme/emails")
        let firstWoke = await firstWait.returns(within: .seconds(120))
        let fullWoke = await fullWait.returns(within: .seconds(120))
        #expect(firstWoke)
        #expect(fullWoke, "a full stream's pushed job may have ended elsewhere: it must look")
        let secondWokeEarly = await secondWait.returns(within: .milliseconds(300))
        #expect(!secondWokeEarly, "one hungry stream is enough for one notification")

        // The first stream filled up: it hands the notification to the next hungry one only.
        let fullAgain = BackgroundWait(notifications, stream: full)
        defer { fullAgain.cancel() }
        try await Task.sleep(for: .milliseconds(100))
        notifications.deliver("acme/emails", hungryOnly: true, except: first)
        let secondWoke = await secondWait.returns(within: .seconds(120))
        #expect(secondWoke)
        let fullWokeAgain = await fullAgain.returns(within: .milliseconds(300))
        #expect(!fullWokeAgain, "passing jobs on wakes no full stream")
    }

    @Test("a job notified while its queue's stream is busy makes the stream's next wait return at once")
    func busyStreamSeesNewJobs() async {
        let notifications = Self.notifications()
        let stream = notifications.openStream(tenantID: "acme", queues: ["emails"])
        let other = notifications.openStream(tenantID: "acme", queues: ["reports"])
        // Between the stream's claim and its wait, a job is submitted to its queue, and to
        // the same queue name of another tenant.
        notifications.deliver("acme/emails")
        notifications.deliver("globex/reports")

        let started = ContinuousClock.now
        await notifications.wait(tenantID: "acme", queues: ["emails"], stream: stream, until: .now + .seconds(600))
        #expect(ContinuousClock.now - started < .seconds(300), "the notification was lost")

        // The stream of another queue was not told to look again.
        let otherWait = BackgroundWait(notifications, stream: other)
        defer { otherWait.cancel() }
        let otherWoke = await otherWait.returns(within: .milliseconds(300))
        #expect(!otherWoke)
        notifications.closeStream(stream)
        notifications.closeStream(other)
    }

    @Test("a cancellation that arrives while the stream is busy makes its next wait return at once, once")
    func busyStreamLooksAgain() async throws {
        let notifications = Self.notifications()
        let job = UUID()
        let stream = notifications.openStream()
        notifications.follow([job], stream: stream)
        notifications.deliverCancellation(job.uuidString.lowercased())

        let started = ContinuousClock.now
        await notifications.wait(tenantID: "acme", queues: ["emails"], stream: stream, until: .now + .seconds(600))
        #expect(ContinuousClock.now - started < .seconds(300))

        let again = ContinuousClock.now
        await notifications.wait(tenantID: "acme", queues: ["emails"], stream: stream, until: .now + .milliseconds(200))
        #expect(ContinuousClock.now - again >= .milliseconds(150), "the cancellation woke the stream twice")
    }

    @Test("a job no longer followed, a closed stream or a malformed payload wakes nothing")
    func unfollowed() async throws {
        let notifications = Self.notifications()
        let job = UUID()
        let stream = notifications.openStream()
        notifications.follow([job], stream: stream)
        notifications.follow([], stream: stream)
        notifications.deliverCancellation(job.uuidString.lowercased())
        notifications.deliverCancellation("not-a-uuid")
        let started = ContinuousClock.now
        await notifications.wait(tenantID: "acme", queues: ["emails"], stream: stream, until: .now + .milliseconds(200))
        #expect(ContinuousClock.now - started >= .milliseconds(150))

        let closed = notifications.openStream()
        notifications.follow([job], stream: closed)
        notifications.closeStream(closed)
        // Following a closed stream's jobs again does not bring it back.
        notifications.follow([job], stream: closed)
        notifications.deliverCancellation(job.uuidString.lowercased())
        let reopened = ContinuousClock.now
        await notifications.wait(tenantID: "acme", queues: ["emails"], stream: closed, until: .now + .milliseconds(200))
        #expect(ContinuousClock.now - reopened >= .milliseconds(150))
    }

    @Test("stopping wakes a waiting stream")
    func stopWakes() async throws {
        let notifications = Self.notifications()
        let stream = notifications.openStream()
        let wait = BackgroundWait(notifications, stream: stream)
        defer { wait.cancel() }
        try await Task.sleep(for: .milliseconds(100))
        notifications.stop()
        let woke = await wait.returns(within: .seconds(120))
        #expect(woke)
        #expect(notifications.isStopped)
    }
}

/// The payloads that tell shard owners when attempts started elsewhere expire.
@Suite("Job notifications: attempt expiries")
struct AttemptExpiryPayloadTests {
    @Test("expiries round-trip through their payload, to the millisecond, rounded up")
    func roundTrip() {
        let expiries = [
            3: Date(timeIntervalSince1970: 1_800_000_000.1234),
            0: Date(timeIntervalSince1970: 1_800_000_001),
        ]
        let payloads = JobNotifications.attemptPayloads(expiries)
        #expect(payloads == ["0:1800000001000,3:1800000000124"])
        let parsed = JobNotifications.attemptExpiries(payloads[0])
        #expect(parsed.keys.sorted() == [0, 3])
        #expect(parsed[3] == Date(timeIntervalSince1970: 1_800_000_000.124))
    }

    @Test("many shards split into payloads under PostgreSQL's notification limit, losing none")
    func split() {
        let expiries = Dictionary(uniqueKeysWithValues: (0..<2_000).map { ($0, Date(timeIntervalSince1970: 1.0e9)) })
        let payloads = JobNotifications.attemptPayloads(expiries)
        #expect(payloads.count > 1)
        #expect(payloads.allSatisfy { $0.utf8.count <= 7_000 })
        let merged = payloads.map(JobNotifications.attemptExpiries).reduce(into: [Int: Date]()) { all, part in
            all.merge(part) { first, _ in first }
        }
        #expect(merged == expiries)
    }

    @Test("malformed pairs are ignored; a shard named twice keeps its earliest expiry")
    func malformed() {
        let parsed = JobNotifications.attemptExpiries("1:2000,x:5,2,-1:7,1:1000,3:abc,4:3000")
        #expect(parsed == [1: Date(timeIntervalSince1970: 1), 4: Date(timeIntervalSince1970: 3)])
        #expect(JobNotifications.attemptPayloads([:]).isEmpty)
    }
}
