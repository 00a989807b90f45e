import Foundation
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Checks the fields that pick jobs out (ids, queues, label selectors, states, time bounds)
/// and says which field is wrong and what would be right.
///
/// Pure, so it is tested without a server; every refusal is `INVALID_ARGUMENT` with the
/// field named in the message and in a `BadRequest` detail.
enum JobSelectionValidation {
    static let maximumLabelSelectors = 64
    static let maximumScheduleIDLength = 128

    /// The job id in `text`, a UUID in its usual 36-character form.
    static func jobID(_ text: String, field: String = "job_id") throws(CallStatus) -> UUID {
        guard let id = UUID(uuidString: text) else {
            throw Self.invalid(
                field,
                "must be a job's UUID, such as 3f2b8c1e-4d5a-4e6f-9a7b-1c2d3e4f5a6b; got \(Self.quoted(text))")
        }
        return id
    }

    /// The queue to filter on; `nil` for an empty name, which means every queue.
    static func queue(_ name: String, field: String = "queue") throws(CallStatus) -> String? {
        guard !name.isEmpty else {
            return nil
        }
        guard JobSpecValidation.isValidQueue(name) else {
            throw Self.invalid(
                field,
                "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-', or empty for every queue; "
                    + "got \(Self.quoted(name))")
        }
        return name
    }

    /// The labels a selector asks for; empty when there is no selector.
    static func labels(_ selector: V1.LabelSelector?, field: String = "labels") throws(CallStatus) -> [String: String] {
        let labels = selector?.matchLabels ?? [:]
        guard labels.count <= Self.maximumLabelSelectors else {
            throw Self.invalid(
                "\(field).match_labels", "may hold at most \(Self.maximumLabelSelectors) labels; got \(labels.count)")
        }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            guard (1...63).contains(key.utf8.count) else {
                throw Self.invalid(
                    "\(field).match_labels", "keys must be 1 to 63 bytes; \(Self.quoted(key)) is \(key.utf8.count)")
            }
            guard value.utf8.count <= 255 else {
                throw Self.invalid(
                    "\(field).match_labels[\(key)]", "must be at most 255 bytes; got \(value.utf8.count)")
            }
        }
        return labels
    }

    /// The states to filter on; empty for every state.
    static func states(_ states: [V1.JobState]) throws(CallStatus) -> Set<JobState> {
        var chosen: Set<JobState> = []
        for (index, state) in states.enumerated() {
            guard let known = JobState(state) else {
                throw Self.invalid(
                    "states[\(index)]",
                    "must be PENDING, RUNNING, RETRY_WAIT, SUCCEEDED, DEAD or CANCELLED; got \(state.rawValue)")
            }
            chosen.insert(known)
        }
        return chosen
    }

    /// A time bound in milliseconds since the Unix epoch; `nil` for zero, which means none.
    static func instant(_ milliseconds: Int64, field: String) throws(CallStatus) -> Date? {
        guard milliseconds >= 0 else {
            throw Self.invalid(field, "must be milliseconds since 1970, or 0 for no bound; got \(milliseconds)")
        }
        return milliseconds == 0 ? nil : Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
    }

    /// The filter a `ListJobs` request asks for.
    static func filter(_ request: V1.ListJobsRequest) throws(CallStatus) -> JobFilter {
        let from = try Self.instant(request.createdAfterUnixMs, field: "created_after_unix_ms")
        let before = try Self.instant(request.createdBeforeUnixMs, field: "created_before_unix_ms")
        if let from, let before, before <= from {
            throw Self.invalid(
                "created_before_unix_ms",
                "must be later than created_after_unix_ms (\(request.createdAfterUnixMs)); "
                    + "got \(request.createdBeforeUnixMs)")
        }
        guard request.scheduleID.utf8.count <= Self.maximumScheduleIDLength else {
            throw Self.invalid(
                "schedule_id",
                "must be at most \(Self.maximumScheduleIDLength) bytes; got \(request.scheduleID.utf8.count)")
        }
        return JobFilter(
            queue: try Self.queue(request.queue),
            states: try Self.states(request.states),
            labels: try Self.labels(request.labels),
            scheduleID: request.scheduleID.isEmpty ? nil : request.scheduleID,
            createdFrom: from,
            createdBefore: before)
    }

    /// `INVALID_ARGUMENT` for one field: the message starts with the field's name.
    static func invalid(_ field: String, _ description: String) -> CallStatus {
        CallStatus(
            code: .invalidArgument,
            message: "\(field) \(description)",
            details: [
                V1.StatusDetail(
                    detail: .badRequest(
                        V1.BadRequest(violations: [V1.FieldViolation(field: field, description: description)])))
            ])
    }

    /// Text from a request, shortened, for a message that echoes it.
    static func quoted(_ text: String) -> String {
        let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
        return "'\(shown)'"
    }
}
