import Foundation
import GnomonAuth
import GnomonCore
import GnomonNetwork
import GnomonProtocol
import GnomonStore

/// Answers `gnomon.v1.ScheduleService`: a tenant's recurring jobs, created within its
/// schedules quota, changed by revision, paused, resumed, deleted and previewed.
///
/// Every change tells the shard loop that fires the schedule (`NOTIFY gnomon_schedules` with
/// its shard), so a new or moved next fire time is honoured at once.
struct ScheduleService: Sendable {
    /// The channel a schedule's change is announced on, with its shard as payload.
    static let channel = "gnomon_schedules"
    static let maximumPreview: UInt32 = 1_000
    static let defaultPreview = 10
    private static let scope = "ListSchedules"
    /// The most unfinished jobs one delete with `cancel_jobs` cancels.
    static let maximumCancelledOnDelete = 1_000

    let pool: PostgresPool
    let store: JobStore
    let audit: Auditor
    let cursors: PageCursorSealer

    // MARK: - Changes

    func create(_ request: V1.CreateScheduleRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.CreateScheduleResponse
    {
        let tenantID = try Self.tenant(context)
        let scheduleID = request.scheduleID.isEmpty ? Self.newID() : request.scheduleID
        guard ScheduleStore.isValidID(scheduleID) else {
            throw CallStatus(
                code: .invalidArgument,
                message: "schedule_id must be empty (for one chosen by the server) or 1 to 128 characters of "
                    + "A-Z, a-z, 0-9, '.', '_' and '-'")
        }
        let quotas = try await self.quotas(tenantID)
        let checked = try self.validation(quotas).check(request.spec ?? V1.ScheduleSpec()).get()
        let createdAt = Date()
        let next = try Self.nextFire(checked.definition, createdAt: createdAt, after: createdAt)
        let limit = quotas.maxSchedules > 0 ? quotas.maxSchedules : nil
        let shardCount = self.store.shardCount
        let paused = request.paused
        let record = try await self.change(scheduleID, context, doing: "creating the schedule") { connection in
            try ScheduleStore.create(
                scheduleID: scheduleID, definition: checked.definition, paused: paused, nextFireAt: next,
                shardCount: shardCount, scheduleLimit: limit, createdAt: createdAt, tenantID: tenantID,
                on: connection)
        }
        return V1.CreateScheduleResponse(schedule: Self.message(record))
    }

    func update(_ request: V1.UpdateScheduleRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.UpdateScheduleResponse
    {
        let tenantID = try Self.tenant(context)
        let scheduleID = request.scheduleID
        let mask = try Self.checkMask(request.updateMask)
        let quotas = try await self.quotas(tenantID)
        let validation = self.validation(quotas)
        let given = request.spec ?? V1.ScheduleSpec()
        let expected = request.expectedRevision == 0 ? nil : Int64(clamping: request.expectedRevision)
        let record = try await self.change(scheduleID, context, doing: "updating the schedule") { connection in
            let current = try ScheduleStore.get(scheduleID, tenantID: tenantID, forUpdate: true, on: connection)
            let spec = mask.isEmpty ? given : Self.merge(given, into: try Self.spec(current), paths: mask)
            let checked = try validation.check(spec).get()
            let next = try Self.nextFire(checked.definition, createdAt: current.createdAt, after: Date())
            return try ScheduleStore.update(
                scheduleID, definition: checked.definition, nextFireAt: next, expectedRevision: expected,
                tenantID: tenantID, on: connection)
        }
        return V1.UpdateScheduleResponse(schedule: Self.message(record))
    }

    func pause(_ request: V1.PauseScheduleRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.PauseScheduleResponse
    {
        let tenantID = try Self.tenant(context)
        guard request.reason.count <= 1_024 else {
            throw CallStatus(
                code: .invalidArgument, message: "reason must be at most 1024 characters; got \(request.reason.count)")
        }
        let reason = request.reason
        let record = try await self.change(request.scheduleID, context, doing: "pausing the schedule") {
            try ScheduleStore.setPaused(
                true, reason: reason, nextFireAt: nil, scheduleID: request.scheduleID, tenantID: tenantID, on: $0)
        }
        return V1.PauseScheduleResponse(schedule: Self.message(record))
    }

    func resume(_ request: V1.ResumeScheduleRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.ResumeScheduleResponse
    {
        let tenantID = try Self.tenant(context)
        let scheduleID = request.scheduleID
        let record = try await self.change(scheduleID, context, doing: "resuming the schedule") { connection in
            let current = try ScheduleStore.get(scheduleID, tenantID: tenantID, forUpdate: true, on: connection)
            // Fire times that passed while paused are not missed: the schedule carries on from now.
            let next = try Self.nextFire(current.definition, createdAt: current.createdAt, after: Date())
            return try ScheduleStore.setPaused(
                false, nextFireAt: next, scheduleID: scheduleID, tenantID: tenantID, on: connection)
        }
        return V1.ResumeScheduleResponse(schedule: Self.message(record))
    }

    func delete(_ request: V1.DeleteScheduleRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.DeleteScheduleResponse
    {
        let tenantID = try Self.tenant(context)
        let scheduleID = request.scheduleID
        let cancelJobs = request.cancelJobs
        let store = self.store
        _ = try await self.change(scheduleID, context, doing: "deleting the schedule") { connection in
            let record = try ScheduleStore.get(scheduleID, tenantID: tenantID, forUpdate: true, on: connection)
            if cancelJobs {
                let live = try connection.query(
                    "SELECT id FROM gnomon_jobs WHERE tenant_id = $1 AND schedule_id = $2 LIMIT $3",
                    [tenantID, scheduleID, Self.maximumCancelledOnDelete]
                ).rows.compactMap { UUID(uuidString: try $0.string("id")) }
                for id in live {
                    try store.cancel(id, reason: "schedule '\(scheduleID)' was deleted", on: connection)
                }
            }
            try ScheduleStore.delete(scheduleID, tenantID: tenantID, on: connection)
            return record
        }
        return V1.DeleteScheduleResponse()
    }

    // MARK: - Reads

    func get(_ request: V1.GetScheduleRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.GetScheduleResponse
    {
        let tenantID = try Self.tenant(context)
        let scheduleID = request.scheduleID
        do {
            let record = try await self.pool.withTenantTransaction(tenantID) {
                try ScheduleStore.get(scheduleID, tenantID: tenantID, on: $0)
            }
            return V1.GetScheduleResponse(schedule: Self.message(record))
        } catch {
            throw CallStatus(error, doing: "reading the schedule")
        }
    }

    func list(_ request: V1.ListSchedulesRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.ListSchedulesResponse
    {
        let tenantID = try Self.tenant(context)
        let limit = try Pages.size(request.page)
        let labels = try JobSelectionValidation.labels(request.labels)
        let after = try Pages.position(request.page, cursors: self.cursors, scope: Self.scope, tenantID: tenantID)
            .map { String(decoding: $0, as: UTF8.self) }
        let paused: Bool?
        switch request.state {
        case .unspecified: paused = nil
        case .active: paused = false
        case .paused: paused = true
        case .unrecognized(let value):
            throw CallStatus(
                code: .invalidArgument,
                message: "state must be SCHEDULE_STATE_ACTIVE, SCHEDULE_STATE_PAUSED or unset; got \(value)")
        }
        let page: (schedules: [ScheduleRecord], nextAfter: String?)
        do {
            page = try await self.pool.withTenantTransaction(tenantID) {
                try ScheduleStore.list(
                    tenantID: tenantID, paused: paused, labels: labels, after: after, limit: limit, on: $0)
            }
        } catch {
            throw CallStatus(error, doing: "listing schedules")
        }
        return V1.ListSchedulesResponse(
            schedules: page.schedules.map(Self.message),
            nextPageToken: page.nextAfter.map {
                self.cursors.seal(Array($0.utf8), scope: Self.scope, tenantID: tenantID)
            }
                ?? "")
    }

    func preview(_ request: V1.PreviewScheduleRequest, _ context: CallContext) async throws(CallStatus)
        -> V1.PreviewScheduleResponse
    {
        let tenantID = try Self.tenant(context)
        guard request.count <= Self.maximumPreview else {
            throw CallStatus(
                code: .invalidArgument,
                message: "count must be 0 (for \(Self.defaultPreview)) to \(Self.maximumPreview); got \(request.count)")
        }
        guard request.afterUnixMs >= 0 else {
            throw CallStatus(
                code: .invalidArgument,
                message: "after_unix_ms must be 0 (now) or an instant; got \(request.afterUnixMs)")
        }
        let count = request.count == 0 ? Self.defaultPreview : Int(request.count)
        let after = request.afterUnixMs == 0 ? Date() : Date(milliseconds: request.afterUnixMs)
        let scheduleID: String
        let definition: ScheduleDefinition
        let createdAt: Date
        switch request.source {
        case .scheduleID(let id):
            let record: ScheduleRecord
            do {
                record = try await self.pool.withTenantTransaction(tenantID) {
                    try ScheduleStore.get(id, tenantID: tenantID, on: $0)
                }
            } catch {
                throw CallStatus(error, doing: "reading the schedule")
            }
            (scheduleID, definition, createdAt) = (id, record.definition, record.createdAt)
        case .spec(let spec):
            let quotas = try await self.quotas(tenantID)
            definition = try self.validation(quotas).check(spec).get().definition
            (scheduleID, createdAt) = ("preview", Date())
        case nil:
            throw CallStatus(
                code: .invalidArgument, message: "name a schedule_id, or give a spec to preview one not created yet")
        }
        let timing: CronSchedule
        do {
            timing = try ScheduleTiming.schedule(definition, createdAt: createdAt)
        } catch {
            throw CallStatus(code: .invalidArgument, message: "the schedule's expression cannot be read: \(error)")
        }
        var fires: [V1.FireTime] = []
        var cursor = after
        while fires.count < count, let next = ScheduleTiming.nextFire(timing, definition: definition, after: cursor) {
            let jitter = CronJitter.jitter(
                scheduleID: scheduleID, fireTime: next, maximum: .milliseconds(definition.jitterMilliseconds))
            let fireAt = next.addingTimeInterval(
                Double(jitter.components.seconds) + Double(jitter.components.attoseconds) / 1e18)
            fires.append(
                V1.FireTime(
                    fireAtUnixMs: fireAt.unixMilliseconds,
                    nominalUnixMs: next.unixMilliseconds,
                    localTime: Self.localTime(next, in: timing.timeZone),
                    adjustment: Self.adjustment(next, timing)))
            cursor = next
        }
        return V1.PreviewScheduleResponse(fireTimes: fires)
    }

    // MARK: - Helpers

    /// Runs a change of one schedule with its audit record in the tenant's transaction, then
    /// wakes the loop of its shard; a refusal is audited on its own.
    private func change(
        _ scheduleID: String,
        _ context: CallContext,
        doing action: String,
        _ body: @escaping @Sendable (PostgresConnection) throws -> ScheduleRecord
    ) async throws(CallStatus) -> ScheduleRecord {
        let tenantID = try Self.tenant(context)
        let audit = self.audit
        do {
            return try await self.pool.withTenantTransaction(tenantID) { connection in
                let record = try body(connection)
                try connection.notify(Self.channel, payload: String(record.shard))
                try audit.record(context, resourceID: scheduleID, status: CallStatus(code: .ok), on: connection)
                return record
            }
        } catch {
            let status = (error as? CallStatus) ?? JobService.status(error, doing: action)
            await audit.recordFailure(context, resourceID: scheduleID, status: status)
            throw status
        }
    }

    private func quotas(_ tenantID: String) async throws(CallStatus) -> TenantQuotas {
        do {
            return try await self.pool.withTenantTransaction(tenantID) { try TenantStore.quotas(for: tenantID, on: $0) }
        } catch {
            throw CallStatus(error, doing: "reading the tenant's quotas")
        }
    }

    private func validation(_ quotas: TenantQuotas) -> ScheduleSpecValidation {
        ScheduleSpecValidation(
            maximumPayloadBytes: quotas.maxPayloadBytes > 0
                ? quotas.maxPayloadBytes : JobSpecValidation.defaultMaximumPayloadBytes)
    }

    private static func tenant(_ context: CallContext) throws(CallStatus) -> String {
        guard let tenantID = context.tenantID else {
            throw CallStatus(
                code: .permissionDenied, message: "schedules belong to a tenant; use a token with a tenant claim")
        }
        return tenantID
    }

    /// A server-chosen id: `sch-` and 20 random hex digits.
    private static func newID() -> String {
        "sch-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
    }

    private static func nextFire(_ definition: ScheduleDefinition, createdAt: Date, after date: Date)
        throws(CallStatus) -> Date?
    {
        do {
            let timing = try ScheduleTiming.schedule(definition, createdAt: createdAt)
            return ScheduleTiming.nextFire(timing, definition: definition, after: date)
        } catch {
            throw CallStatus(code: .invalidArgument, message: "the schedule's timing cannot be read: \(error)")
        }
    }

    /// The spec fields an update mask may name.
    static let maskPaths: [String] = [
        "expression", "time_zone", "job_template", "dst_gap_policy", "dst_overlap_policy", "catch_up_policy",
        "catch_up_limit", "overlap_policy", "jitter_ms", "start_at_unix_ms", "end_at_unix_ms", "description",
        "labels",
    ]

    private static func checkMask(_ mask: [String]) throws(CallStatus) -> Set<String> {
        for path in mask where !Self.maskPaths.contains(path) {
            throw CallStatus(
                code: .invalidArgument,
                message: "update_mask names '\(path.prefix(128))', which is not a field of the spec; accepted: "
                    + Self.maskPaths.joined(separator: ", ") + " (or an empty mask to replace the whole spec)")
        }
        return Set(mask)
    }

    /// `current` with the fields `paths` names taken from `given`.
    static func merge(_ given: V1.ScheduleSpec, into current: V1.ScheduleSpec, paths: Set<String>) -> V1.ScheduleSpec {
        var spec = current
        for path in paths {
            switch path {
            case "expression": spec.expression = given.expression
            case "time_zone": spec.timeZone = given.timeZone
            case "job_template": spec.jobTemplate = given.jobTemplate
            case "dst_gap_policy": spec.dstGapPolicy = given.dstGapPolicy
            case "dst_overlap_policy": spec.dstOverlapPolicy = given.dstOverlapPolicy
            case "catch_up_policy": spec.catchUpPolicy = given.catchUpPolicy
            case "catch_up_limit": spec.catchUpLimit = given.catchUpLimit
            case "overlap_policy": spec.overlapPolicy = given.overlapPolicy
            case "jitter_ms": spec.jitterMs = given.jitterMs
            case "start_at_unix_ms": spec.startAtUnixMs = given.startAtUnixMs
            case "end_at_unix_ms": spec.endAtUnixMs = given.endAtUnixMs
            case "description": spec.description = given.description
            case "labels": spec.labels = given.labels
            default: break
            }
        }
        return spec
    }

    /// A stored schedule's spec, as the caller would have given it.
    static func spec(_ record: ScheduleRecord) throws -> V1.ScheduleSpec {
        let definition = record.definition
        var spec = V1.ScheduleSpec(
            expression: definition.expression,
            timeZone: definition.timeZone,
            jobTemplate: try JobTemplate(json: definition.jobTemplateJSON).spec,
            catchUpLimit: UInt32(clamping: definition.catchUpLimit),
            jitterMs: definition.jitterMilliseconds,
            startAtUnixMs: definition.startAt?.unixMilliseconds ?? 0,
            endAtUnixMs: definition.endAt?.unixMilliseconds ?? 0,
            description: definition.description,
            labels: definition.labels)
        spec.dstGapPolicy = definition.dstGapPolicy == "skip" ? .skip : .runAfter
        spec.dstOverlapPolicy = definition.dstOverlapPolicy == "twice" ? .twice : .once
        switch definition.catchUpPolicy {
        case "skip": spec.catchUpPolicy = .skip
        case "all": spec.catchUpPolicy = .all
        default: spec.catchUpPolicy = .latest
        }
        switch definition.overlapPolicy {
        case "allow": spec.overlapPolicy = .allow
        case "buffer_one": spec.overlapPolicy = .bufferOne
        case "cancel_previous": spec.overlapPolicy = .cancelPrevious
        default: spec.overlapPolicy = .skip
        }
        return spec
    }

    static func message(_ record: ScheduleRecord) -> V1.Schedule {
        V1.Schedule(
            id: record.scheduleID,
            tenantID: record.tenantID,
            spec: try? Self.spec(record),
            state: record.paused ? .paused : .active,
            pauseReason: record.pauseReason,
            createdAtUnixMs: record.createdAt.unixMilliseconds,
            updatedAtUnixMs: record.updatedAt.unixMilliseconds,
            nextFireAtUnixMs: record.nextFireAt?.unixMilliseconds ?? 0,
            lastFireAtUnixMs: record.lastFireAt?.unixMilliseconds ?? 0,
            lastJobID: record.lastJobID?.uuidString.lowercased() ?? "",
            revision: UInt64(max(record.revision, 0)),
            firedCount: UInt64(max(record.counts.fired, 0)),
            skippedCount: UInt64(max(record.counts.skipped, 0)),
            missedCount: UInt64(max(record.counts.missed, 0)),
            caughtUpCount: UInt64(max(record.counts.caughtUp, 0)))
    }

    /// The local wall-clock time of `date` in `zone`, as RFC 3339 with its offset.
    static func localTime(_ date: Date, in zone: TimeZone) -> String {
        let offset = zone.secondsFromGMT(for: date)
        let local = UTCDateTime(secondsSinceEpoch: Int64(date.timeIntervalSince1970.rounded(.down)) + Int64(offset))
        let sign = offset < 0 ? "-" : "+"
        let magnitude = abs(offset)
        return local.formatted(separator: "T") + sign + UTCDateTime.pad(magnitude / 3_600, 2) + ":"
            + UTCDateTime.pad(magnitude % 3_600 / 60, 2)
    }

    /// Why a fire time differs from the plain expression: moved out of a gap, or the second
    /// pass of an overlap.
    static func adjustment(_ date: Date, _ timing: CronSchedule) -> V1.FireAdjustment {
        guard timing.expression.isCalendar else {
            return .exact
        }
        let zone = timing.timeZone
        let offset = zone.secondsFromGMT(for: date)
        // The same wall-clock reading happened earlier, before the clock was turned back.
        for shift in [1_800, 3_600, 7_200]
        where zone.secondsFromGMT(for: date.addingTimeInterval(-Double(shift))) == offset + shift {
            return .secondOccurrence
        }
        // The fire is the first instant after a gap, where the plain expression would not fire.
        if zone.secondsFromGMT(for: date.addingTimeInterval(-1)) < offset {
            var strict = timing
            strict.policy.gap = .skip
            if strict.nextFire(after: date.addingTimeInterval(-0.001)) != date {
                return .movedOutOfGap
            }
        }
        return .exact
    }
}
