import Foundation
import GnomonCore
import GnomonProtocol
import GnomonStore
import Testing

@testable import GnomonNetwork
@testable import GnomonServer

/// The checks of the fields that pick jobs out, without a server.
@Suite("Job selection validation")
struct JobSelectionValidationTests {
    /// The field a refusal names in its `BadRequest` detail.
    private static func field(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            guard let error = error as? CallStatus else {
                Issue.record("threw \(error), not a CallStatus")
                return nil
            }
            #expect(error.code == .invalidArgument)
            let fields = error.details.compactMap { detail -> [String]? in
                if case .badRequest(let bad) = detail.detail { return bad.violations.map(\.field) }
                return nil
            }.flatMap { $0 }
            #expect(fields.count == 1)
            #expect(error.message.hasPrefix(fields.first ?? "?"))
            return fields.first
        }
    }

    @Test("a full ListJobs request becomes the filter it asks for")
    func filter() throws {
        let request = V1.ListJobsRequest(
            queue: "emails", states: [.dead, .retryWait], labels: V1.LabelSelector(matchLabels: ["a": "b"]),
            scheduleID: "nightly", createdAfterUnixMs: 1_000, createdBeforeUnixMs: 2_000)
        let filter = try JobSelectionValidation.filter(request)
        #expect(filter.queue == "emails")
        #expect(filter.states == [.dead, .retryWait])
        #expect(filter.labels == ["a": "b"])
        #expect(filter.scheduleID == "nightly")
        #expect(filter.createdFrom == Date(timeIntervalSince1970: 1))
        #expect(filter.createdBefore == Date(timeIntervalSince1970: 2))
        #expect(try JobSelectionValidation.filter(V1.ListJobsRequest()) == JobFilter())
    }

    @Test("each wrong field of a listing is named")
    func wrongFields() {
        #expect(
            Self.field {
                _ = try JobSelectionValidation.filter(
                    V1.ListJobsRequest(createdAfterUnixMs: 2_000, createdBeforeUnixMs: 2_000))
            } == "created_before_unix_ms")
        #expect(
            Self.field {
                _ = try JobSelectionValidation.filter(V1.ListJobsRequest(createdBeforeUnixMs: -3))
            } == "created_before_unix_ms")
        #expect(
            Self.field {
                _ = try JobSelectionValidation.filter(
                    V1.ListJobsRequest(scheduleID: String(repeating: "s", count: 129)))
            } == "schedule_id")
        #expect(
            Self.field {
                _ = try JobSelectionValidation.filter(V1.ListJobsRequest(states: [.init(rawValue: 42)]))
            } == "states[0]")
        #expect(
            Self.field {
                _ = try JobSelectionValidation.labels(
                    V1.LabelSelector(matchLabels: ["k": String(repeating: "v", count: 256)]))
            } == "labels.match_labels[k]")
        let tooMany = Dictionary(uniqueKeysWithValues: (0...64).map { ("k\($0)", "v") })
        #expect(
            Self.field {
                _ = try JobSelectionValidation.labels(V1.LabelSelector(matchLabels: tooMany))
            } == "labels.match_labels")
        #expect(Self.field { _ = try JobSelectionValidation.queue("a/b", field: "queue") } == "queue")
    }

    @Test("a job id is a UUID in any case; anything else names the field and shows the form")
    func jobIDs() throws {
        let id = UUID()
        #expect(try JobSelectionValidation.jobID(id.uuidString.lowercased()) == id)
        #expect(try JobSelectionValidation.jobID(id.uuidString.uppercased()) == id)
        #expect(Self.field { _ = try JobSelectionValidation.jobID("17", field: "job_ids[3]") } == "job_ids[3]")
        do {
            _ = try JobSelectionValidation.jobID(String(repeating: "x", count: 500))
            Issue.record("a 500-character id was accepted")
        } catch {
            #expect(error.message.contains("such as"))
            #expect(error.message.count < 200, "the message echoes the whole input")
        }
    }
}
