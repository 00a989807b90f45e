import Foundation
import GnomonProtocol
import GnomonStore

/// The job a schedule creates at each fire, kept as a JSON object in the schedule's row.
///
/// It holds a checked job with the server's defaults filled in, so a fire never fails on a
/// template that was accepted: the payload is embedded as JSON, not as text. What a fire adds
/// (its due time, the schedule and fire time, the trace) is not part of the template.
struct JobTemplate: Sendable, Hashable {
    var queue: String
    var jobType: String
    /// The payload: a JSON document in UTF-8.
    var payloadJSON: String
    var labels: [String: String]
    var priority: Int
    var maxAttempts: Int
    var backoff: BackoffSettings
    var attemptTimeoutMilliseconds: Int64

    /// The template of a checked job: everything but its timing and identity.
    init(_ job: NewJob) {
        self.queue = job.queue
        self.jobType = job.jobType
        self.payloadJSON = job.payloadJSON
        self.labels = job.labels
        self.priority = job.priority
        self.maxAttempts = job.maxAttempts
        self.backoff = job.backoff
        self.attemptTimeoutMilliseconds = job.attemptTimeoutMilliseconds
    }

    /// The template as stored.
    ///
    /// - Throws: When the payload is not a JSON document, which a checked job never has.
    func json() throws -> String {
        let payload = try JSONSerialization.jsonObject(with: Data(self.payloadJSON.utf8), options: [.fragmentsAllowed])
        let object: [String: Any] = [
            "queue": self.queue,
            "job_type": self.jobType,
            "payload": payload,
            "labels": self.labels,
            "priority": self.priority,
            "max_attempts": self.maxAttempts,
            "backoff": [
                "initial_delay_ms": self.backoff.initialDelayMilliseconds,
                "max_delay_ms": self.backoff.maximumDelayMilliseconds,
                "multiplier": self.backoff.multiplier,
                "jitter": self.backoff.jitter,
            ],
            "attempt_timeout_ms": self.attemptTimeoutMilliseconds,
        ]
        let data = try JSONSerialization.data(
            withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads a stored template.
    ///
    /// - Throws: ``TemplateError`` naming the field that is missing or of the wrong kind.
    init(json: String) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw TemplateError(field: "", expected: "a JSON object")
        }
        func field<T>(_ name: String, _ type: T.Type) throws -> T {
            guard let value = object[name] as? T else {
                throw TemplateError(field: name, expected: "\(T.self)")
            }
            return value
        }
        let payload = object["payload"] ?? NSNull()
        let payloadData = try JSONSerialization.data(
            withJSONObject: payload, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        let backoff = try field("backoff", [String: Any].self)
        func backoffNumber(_ name: String) throws -> NSNumber {
            guard let value = backoff[name] as? NSNumber else {
                throw TemplateError(field: "backoff.\(name)", expected: "a number")
            }
            return value
        }
        self.queue = try field("queue", String.self)
        self.jobType = try field("job_type", String.self)
        self.payloadJSON = String(decoding: payloadData, as: UTF8.self)
        self.labels = try field("labels", [String: String].self)
        self.priority = try field("priority", NSNumber.self).intValue
        self.maxAttempts = try field("max_attempts", NSNumber.self).intValue
        self.backoff = BackoffSettings(
            initialDelayMilliseconds: try backoffNumber("initial_delay_ms").int64Value,
            maximumDelayMilliseconds: try backoffNumber("max_delay_ms").int64Value,
            multiplier: try backoffNumber("multiplier").doubleValue,
            jitter: try backoffNumber("jitter").doubleValue
        )
        self.attemptTimeoutMilliseconds = try field("attempt_timeout_ms", NSNumber.self).int64Value
    }

    /// The job one fire creates.
    ///
    /// - Parameters:
    ///   - runAt: When it is due: the fire time, jitter included.
    ///   - fireTime: The nominal fire time, before jitter.
    func job(scheduleID: String, fireTime: Date, runAt: Date) -> NewJob {
        NewJob(
            queue: self.queue,
            jobType: self.jobType,
            payloadJSON: self.payloadJSON,
            labels: self.labels,
            runAt: runAt,
            priority: self.priority,
            maxAttempts: self.maxAttempts,
            backoff: self.backoff,
            attemptTimeoutMilliseconds: self.attemptTimeoutMilliseconds,
            scheduleID: scheduleID,
            fireTime: fireTime
        )
    }

    /// The template as the protocol's job spec, defaults shown.
    var spec: V1.JobSpec {
        V1.JobSpec(
            queue: self.queue,
            jobType: self.jobType,
            payloadJSON: Array(self.payloadJSON.utf8),
            labels: self.labels,
            priority: Int32(clamping: self.priority),
            maxAttempts: UInt32(clamping: self.maxAttempts),
            backoff: V1.BackoffPolicy(
                initialDelayMs: self.backoff.initialDelayMilliseconds,
                maxDelayMs: self.backoff.maximumDelayMilliseconds,
                multiplier: self.backoff.multiplier,
                jitter: self.backoff.jitter),
            attemptTimeoutMs: self.attemptTimeoutMilliseconds)
    }
}

/// A stored job template that cannot be read: a field is missing or of the wrong kind.
struct TemplateError: Error, CustomStringConvertible {
    let field: String
    let expected: String

    var description: String {
        self.field.isEmpty
            ? "the job template is not \(self.expected)"
            : "the job template's \(self.field) is missing or not \(self.expected)"
    }
}
