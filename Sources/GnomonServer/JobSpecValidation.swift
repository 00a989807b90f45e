import Foundation
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Checks a submitted job and fills in the server's defaults, or says every field that is wrong.
///
/// Pure: the payload limit and the current time are given, so it is tested without a server.
struct JobSpecValidation {
    /// The most jobs one SubmitJobs call may carry.
    static let maximumBatch = 1_000
    /// The payload limit when the tenant has none of its own.
    static let defaultMaximumPayloadBytes: Int64 = 1_048_576
    static let maximumLabels = 64
    static let maximumAttempts: UInt32 = 1_000
    static let defaultMaximumAttempts = 25
    static let defaultAttemptTimeoutMilliseconds: Int64 = 300_000
    static let defaultHTTPAttemptTimeoutMilliseconds: Int64 = 30_000
    /// Twelve hours: an attempt that needs longer should heartbeat, not hold a lease that long.
    static let maximumAttemptTimeoutMilliseconds: Int64 = 43_200_000
    /// A year ahead: a job due later belongs in a schedule.
    static let maximumDelayMilliseconds: Int64 = 366 * 86_400_000
    static let maximumIdempotencyKeyLength = 256

    /// The largest payload accepted, in bytes.
    let maximumPayloadBytes: Int64
    /// When the call arrived, for `delay_ms`.
    let now: Date

    /// The job to insert, or `INVALID_ARGUMENT` listing each wrong field under `prefix`.
    func job(
        from spec: V1.JobSpec,
        metadata: V1.CallMetadata,
        prefix: String = "job"
    ) -> Result<NewJob, CallStatus> {
        var violations: [V1.FieldViolation] = []
        func refuse(_ field: String, _ description: String) {
            violations.append(V1.FieldViolation(field: "\(prefix).\(field)", description: description))
        }

        if !Self.isValidQueue(spec.queue) {
            refuse(
                "queue",
                "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'; got \(Self.quoted(spec.queue))")
        }
        if spec.jobType.utf8.count > 128 {
            refuse("job_type", "must be at most 128 bytes; got \(spec.jobType.utf8.count)")
        }
        let payload = spec.payloadJSON.isEmpty ? Array("null".utf8) : spec.payloadJSON
        var payloadText = "null"
        if Int64(payload.count) > self.maximumPayloadBytes {
            refuse(
                "payload_json",
                "is \(payload.count) bytes, over the tenant's limit of \(self.maximumPayloadBytes) bytes")
        } else if let text = String(validating: payload, as: UTF8.self),
            (try? JSONSerialization.jsonObject(with: Data(payload), options: [.fragmentsAllowed])) != nil
        {
            payloadText = text
        } else {
            refuse("payload_json", "must be a JSON document in UTF-8")
        }
        Self.checkLabels(spec.labels, refuse: refuse)

        var runAt: Date?
        switch spec.start {
        case .runAtUnixMs(let milliseconds):
            let latest = self.now.addingTimeInterval(Double(Self.maximumDelayMilliseconds) / 1_000)
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
            if milliseconds <= 0 || date > latest {
                refuse("run_at_unix_ms", "must be after 1970 and at most a year ahead; use a schedule for later")
            } else {
                runAt = date
            }
        case .delayMs(let milliseconds):
            if milliseconds < 0 || milliseconds > Self.maximumDelayMilliseconds {
                refuse("delay_ms", "must be 0 to \(Self.maximumDelayMilliseconds) (a year); got \(milliseconds)")
            } else if milliseconds > 0 {
                runAt = self.now.addingTimeInterval(Double(milliseconds) / 1_000)
            }
        case nil:
            break
        }
        if !(-1_000...1_000).contains(spec.priority) {
            refuse("priority", "must be -1000 to 1000; got \(spec.priority)")
        }
        if spec.maxAttempts > Self.maximumAttempts {
            refuse(
                "max_attempts",
                "must be 1 to \(Self.maximumAttempts), or 0 for the default of 25; got \(spec.maxAttempts)")
        }
        let backoff = Self.backoff(spec.backoff, refuse: refuse)
        let isHTTP = spec.httpTarget != nil
        if spec.attemptTimeoutMs < 0 || spec.attemptTimeoutMs > Self.maximumAttemptTimeoutMilliseconds {
            refuse(
                "attempt_timeout_ms",
                "must be 1 to \(Self.maximumAttemptTimeoutMilliseconds) (12 hours), or 0 for the default; "
                    + "got \(spec.attemptTimeoutMs)")
        }
        let key = spec.idempotencyKey.isEmpty ? metadata.idempotencyKey : spec.idempotencyKey
        if key.utf8.count > Self.maximumIdempotencyKeyLength {
            refuse(
                "idempotency_key", "must be at most \(Self.maximumIdempotencyKeyLength) bytes; got \(key.utf8.count)")
        }
        if isHTTP {
            // TODO: accept HTTP targets once the HTTP executor dispatches them.
            refuse(
                "http_target", "HTTP jobs are not served by this server yet; leave http_target empty for worker jobs")
        }
        guard violations.isEmpty else {
            let summary = violations.map { "\($0.field) \($0.description)" }.joined(separator: "; ")
            return .failure(
                CallStatus(
                    code: .invalidArgument, message: summary,
                    details: [V1.StatusDetail(detail: .badRequest(V1.BadRequest(violations: violations)))]))
        }
        let timeout =
            spec.attemptTimeoutMs > 0
            ? spec.attemptTimeoutMs
            : (isHTTP ? Self.defaultHTTPAttemptTimeoutMilliseconds : Self.defaultAttemptTimeoutMilliseconds)
        return .success(
            NewJob(
                queue: spec.queue,
                jobType: spec.jobType,
                payloadJSON: payloadText,
                labels: spec.labels,
                runAt: runAt,
                priority: Int(spec.priority),
                maxAttempts: spec.maxAttempts == 0 ? Self.defaultMaximumAttempts : Int(spec.maxAttempts),
                backoff: backoff,
                attemptTimeoutMilliseconds: timeout,
                idempotencyKey: key.isEmpty ? nil : key,
                traceparent: metadata.traceparent.isEmpty ? nil : metadata.traceparent))
    }

    static func isValidQueue(_ queue: String) -> Bool {
        (1...128).contains(queue.utf8.count)
            && queue.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    return true
                default:
                    return false
                }
            }
    }

    static func checkLabels(_ labels: [String: String], refuse: (String, String) -> Void) {
        if labels.count > Self.maximumLabels {
            refuse("labels", "may hold at most \(Self.maximumLabels) labels; got \(labels.count)")
        }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if !(1...63).contains(key.utf8.count) {
                refuse("labels", "keys must be 1 to 63 bytes; \(Self.quoted(key)) is \(key.utf8.count)")
            }
            if value.utf8.count > 255 {
                refuse("labels[\(key)]", "must be at most 255 bytes; got \(value.utf8.count)")
            }
        }
    }

    private static func backoff(_ policy: V1.BackoffPolicy?, refuse: (String, String) -> Void) -> BackoffSettings {
        guard let policy else {
            return BackoffSettings()
        }
        let defaults = BackoffSettings()
        let initial = policy.initialDelayMs == 0 ? defaults.initialDelayMilliseconds : policy.initialDelayMs
        let maximum = policy.maxDelayMs == 0 ? defaults.maximumDelayMilliseconds : policy.maxDelayMs
        let multiplier = policy.multiplier == 0 ? 2 : policy.multiplier
        if initial < 0 || initial > 86_400_000 {
            refuse("backoff.initial_delay_ms", "must be 0 to 86400000 (a day); got \(policy.initialDelayMs)")
        }
        if maximum < 0 || maximum > 7 * 86_400_000 {
            refuse("backoff.max_delay_ms", "must be 0 to 604800000 (a week); got \(policy.maxDelayMs)")
        } else if maximum < initial {
            refuse("backoff.max_delay_ms", "must be at least initial_delay_ms (\(initial)); got \(maximum)")
        }
        if !multiplier.isFinite || multiplier < 1 || multiplier > 10 {
            refuse("backoff.multiplier", "must be 1.0 to 10.0, or 0 for 2.0; got \(policy.multiplier)")
        }
        if !policy.jitter.isFinite || policy.jitter < 0 || policy.jitter > 1 {
            refuse("backoff.jitter", "must be 0.0 to 1.0; got \(policy.jitter)")
        }
        return BackoffSettings(
            initialDelayMilliseconds: initial, maximumDelayMilliseconds: maximum, multiplier: multiplier,
            jitter: policy.jitter)
    }

    private static func quoted(_ text: String) -> String {
        let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
        return "'\(shown)'"
    }
}
