import Foundation
import GnomonProtocol
import GnomonStore
import Testing

@testable import GnomonServer

/// The job a schedule creates, kept as JSON in the schedule's row.
@Suite("Job templates")
struct JobTemplateTests {
    private static let job = NewJob(
        queue: "reports", jobType: "render", payloadJSON: #"{"n":1,"tags":["a","b"],"url":"https://x/y"}"#,
        labels: ["team": "data"], priority: 7, maxAttempts: 3,
        backoff: BackoffSettings(
            initialDelayMilliseconds: 500, maximumDelayMilliseconds: 9_000, multiplier: 3, jitter: 0.1),
        attemptTimeoutMilliseconds: 60_000, idempotencyKey: "ignored")

    @Test("a template survives its JSON form, and a fire's job carries the schedule and fire time")
    func roundTrip() throws {
        let template = JobTemplate(Self.job)
        let json = try template.json()
        let read = try JobTemplate(json: json)
        #expect(read == template)
        let fireTime = Date(timeIntervalSince1970: 1_900_000_000)
        let fired = read.job(scheduleID: "nightly", fireTime: fireTime, runAt: fireTime + 0.25)
        #expect(fired.queue == "reports" && fired.jobType == "render" && fired.priority == 7)
        #expect(fired.payloadJSON == #"{"n":1,"tags":["a","b"],"url":"https://x/y"}"#)
        #expect(fired.scheduleID == "nightly")
        #expect(fired.fireTime == fireTime)
        #expect(fired.runAt == fireTime + 0.25)
        #expect(fired.idempotencyKey == nil)
        #expect(fired.backoff == Self.job.backoff)
    }

    @Test("payloads that are not objects are kept: null, a string, a number")
    func scalarPayloads() throws {
        for payload in ["null", #""text""#, "42"] {
            var job = Self.job
            job.payloadJSON = payload
            let read = try JobTemplate(json: try JobTemplate(job).json())
            #expect(read.payloadJSON == payload)
        }
    }

    @Test("a damaged template names the field that is wrong")
    func damaged() throws {
        let json = try JobTemplate(Self.job).json()
        let withoutQueue = json.replacingOccurrences(of: #","queue":"reports""#, with: "")
        #expect(throws: TemplateError.self) { try JobTemplate(json: withoutQueue) }
        do {
            _ = try JobTemplate(json: withoutQueue)
        } catch let error as TemplateError {
            #expect(error.description == "the job template's queue is missing or not String")
        }
        #expect(throws: (any Error).self) { try JobTemplate(json: "[1]") }
    }

    @Test("the spec shown for a template has the defaults that were filled in")
    func spec() {
        let spec = JobTemplate(Self.job).spec
        #expect(spec.queue == "reports")
        #expect(spec.maxAttempts == 3)
        #expect(spec.backoff?.maxDelayMs == 9_000)
        #expect(spec.attemptTimeoutMs == 60_000)
        #expect(spec.idempotencyKey.isEmpty)
    }
}
