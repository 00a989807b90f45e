import Foundation
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Checks a schedule's spec and fills in the defaults, or says every field that is wrong.
///
/// Pure, like ``JobSpecValidation``: the payload limit is given, so it is tested without a server.
struct ScheduleSpecValidation {
    static let maximumCatchUpLimit: UInt32 = 1_000
    static let defaultCatchUpLimit = 100
    /// An hour: a longer spread belongs in the expression.
    static let maximumJitterMilliseconds: Int64 = 3_600_000
    static let maximumDescriptionLength = 1_000

    /// The largest job payload accepted, in bytes.
    let maximumPayloadBytes: Int64

    /// A checked schedule: what the store keeps, and the template each fire uses.
    struct Checked {
        var definition: ScheduleDefinition
        var template: JobTemplate
    }

    /// The definition to store, or `INVALID_ARGUMENT` listing each wrong field under `spec.`.
    func check(_ spec: V1.ScheduleSpec) -> Result<Checked, CallStatus> {
        var violations: [V1.FieldViolation] = []
        func refuse(_ field: String, _ description: String) {
            violations.append(V1.FieldViolation(field: "spec.\(field)", description: description))
        }

        let zone = spec.timeZone.isEmpty ? "UTC" : spec.timeZone
        do {
            _ = try CronExpression(spec.expression)
        } catch {
            refuse("expression", (error as? CronExpressionError)?.message ?? "cannot be read")
        }
        do {
            _ = try CronSchedule.timeZone(identifier: zone)
        } catch {
            refuse("time_zone", (error as? CronExpressionError)?.message ?? "is not an IANA time zone")
        }
        let gap: String
        switch spec.dstGapPolicy {
        case .unspecified, .runAfter: gap = "run_after"
        case .skip: gap = "skip"
        case .unrecognized(let value):
            gap = ""
            refuse("dst_gap_policy", "must be DST_GAP_POLICY_SKIP or DST_GAP_POLICY_RUN_AFTER; got \(value)")
        }
        let overlap: String
        switch spec.dstOverlapPolicy {
        case .unspecified, .once: overlap = "once"
        case .twice: overlap = "twice"
        case .unrecognized(let value):
            overlap = ""
            refuse("dst_overlap_policy", "must be DST_OVERLAP_POLICY_ONCE or DST_OVERLAP_POLICY_TWICE; got \(value)")
        }
        let catchUp: String
        switch spec.catchUpPolicy {
        case .unspecified, .latest: catchUp = "latest"
        case .skip: catchUp = "skip"
        case .all: catchUp = "all"
        case .unrecognized(let value):
            catchUp = ""
            refuse("catch_up_policy", "must be CATCH_UP_POLICY_SKIP, _LATEST or _ALL; got \(value)")
        }
        let overlapPolicy: String
        switch spec.overlapPolicy {
        case .unspecified, .skip: overlapPolicy = "skip"
        case .allow: overlapPolicy = "allow"
        case .bufferOne: overlapPolicy = "buffer_one"
        case .cancelPrevious: overlapPolicy = "cancel_previous"
        case .unrecognized(let value):
            overlapPolicy = ""
            refuse(
                "overlap_policy",
                "must be OVERLAP_POLICY_ALLOW, _SKIP, _BUFFER_ONE or _CANCEL_PREVIOUS; got \(value)")
        }
        if spec.catchUpLimit > Self.maximumCatchUpLimit {
            refuse(
                "catch_up_limit",
                "must be 0 (for \(Self.defaultCatchUpLimit)) to \(Self.maximumCatchUpLimit); got \(spec.catchUpLimit)")
        }
        if !(0...Self.maximumJitterMilliseconds).contains(spec.jitterMs) {
            refuse("jitter_ms", "must be 0 to \(Self.maximumJitterMilliseconds) (an hour); got \(spec.jitterMs)")
        }
        if spec.startAtUnixMs < 0 {
            refuse("start_at_unix_ms", "must be 0 (no bound) or a positive instant; got \(spec.startAtUnixMs)")
        }
        if spec.endAtUnixMs < 0 {
            refuse("end_at_unix_ms", "must be 0 (no bound) or a positive instant; got \(spec.endAtUnixMs)")
        }
        if spec.startAtUnixMs > 0, spec.endAtUnixMs > 0, spec.endAtUnixMs <= spec.startAtUnixMs {
            refuse("end_at_unix_ms", "must be after start_at_unix_ms (\(spec.startAtUnixMs)); got \(spec.endAtUnixMs)")
        }
        if spec.description.count > Self.maximumDescriptionLength {
            refuse(
                "description",
                "must be at most \(Self.maximumDescriptionLength) characters; got \(spec.description.count)")
        }
        JobSpecValidation.checkLabels(spec.labels) { refuse($0, $1) }

        var template: JobTemplate?
        if let job = spec.jobTemplate {
            if !job.idempotencyKey.isEmpty {
                refuse(
                    "job_template.idempotency_key",
                    "must be empty: each fire's job is already unique to the schedule and its fire time")
            }
            if job.start != nil {
                refuse("job_template.start", "must be empty: each fire's job is due at its fire time")
            }
            let jobs = JobSpecValidation(maximumPayloadBytes: self.maximumPayloadBytes, now: Date())
            switch jobs.job(from: job, metadata: V1.CallMetadata(), prefix: "spec.job_template") {
            case .success(let checked):
                template = JobTemplate(checked)
            case .failure(let status):
                violations += Self.violations(of: status)
            }
        } else {
            refuse("job_template", "is required: the job each fire creates, with at least its queue")
        }

        guard violations.isEmpty, let template else {
            let summary = violations.map { "\($0.field) \($0.description)" }.joined(separator: "; ")
            return .failure(
                CallStatus(
                    code: .invalidArgument, message: summary,
                    details: [V1.StatusDetail(detail: .badRequest(V1.BadRequest(violations: violations)))]))
        }
        let templateJSON: String
        do {
            templateJSON = try template.json()
        } catch {
            return .failure(CallStatus(code: .invalidArgument, message: "spec.job_template.payload_json is not JSON"))
        }
        return .success(
            Checked(
                definition: ScheduleDefinition(
                    expression: spec.expression,
                    timeZone: zone,
                    jobTemplateJSON: templateJSON,
                    dstGapPolicy: gap,
                    dstOverlapPolicy: overlap,
                    catchUpPolicy: catchUp,
                    catchUpLimit: spec.catchUpLimit == 0 ? Self.defaultCatchUpLimit : Int(spec.catchUpLimit),
                    overlapPolicy: overlapPolicy,
                    jitterMilliseconds: spec.jitterMs,
                    startAt: spec.startAtUnixMs > 0 ? Date(milliseconds: spec.startAtUnixMs) : nil,
                    endAt: spec.endAtUnixMs > 0 ? Date(milliseconds: spec.endAtUnixMs) : nil,
                    description: spec.description,
                    labels: spec.labels
                ),
                template: template))
    }

    /// The field violations a job check reported.
    private static func violations(of status: CallStatus) -> [V1.FieldViolation] {
        let listed = status.details.flatMap { detail -> [V1.FieldViolation] in
            if case .badRequest(let request) = detail.detail {
                return request.violations
            }
            return []
        }
        return listed.isEmpty ? [V1.FieldViolation(field: "spec.job_template", description: status.message)] : listed
    }
}

/// When a stored schedule fires: its expression in its zone, under its policies.
enum ScheduleTiming {
    /// The schedule's cron timing; fixed intervals count from its creation, to the second.
    static func schedule(_ definition: ScheduleDefinition, createdAt: Date) throws -> CronSchedule {
        try CronSchedule(
            expression: definition.expression,
            timeZoneIdentifier: definition.timeZone,
            policy: CronSchedulePolicy(
                gap: definition.dstGapPolicy == "skip" ? .skip : .runAtFirstValidInstant,
                overlap: definition.dstOverlapPolicy == "twice" ? .twice : .once),
            anchor: Self.anchor(createdAt))
    }

    /// The instant fixed intervals count from: the creation time, down to the whole second.
    static func anchor(_ createdAt: Date) -> Date {
        Date(timeIntervalSince1970: createdAt.timeIntervalSince1970.rounded(.down))
    }

    /// The first fire strictly after `date` within the schedule's start and end, or `nil`.
    static func nextFire(_ schedule: CronSchedule, definition: ScheduleDefinition, after date: Date) -> Date? {
        var after = date
        if let start = definition.startAt, start > after {
            after = start.addingTimeInterval(-0.001)
        }
        guard let next = schedule.nextFire(after: after) else {
            return nil
        }
        if let end = definition.endAt, next > end {
            return nil
        }
        return next
    }
}

extension Date {
    /// The instant `milliseconds` after the Unix epoch.
    init(milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1_000)
    }
}
