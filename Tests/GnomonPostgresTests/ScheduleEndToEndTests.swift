import Foundation
import GnomonAuth
import GnomonNetwork
import GnomonProtocol
import Testing

/// The schedules API over TLS, from an in-process node on a real PostgreSQL.
@Suite("Schedules, end to end", .serialized)
struct ScheduleEndToEndTests {
    private static func spec(_ expression: String = "0 3 * * *", zone: String = "Europe/Berlin") -> V1.ScheduleSpec {
        V1.ScheduleSpec(
            expression: expression, timeZone: zone,
            jobTemplate: V1.JobSpec(queue: "reports", payloadJSON: Array(#"{"kind":"nightly"}"#.utf8)),
            description: "nightly report", labels: ["team": "data"])
    }

    /// Milliseconds since the epoch of an RFC 3339 UTC instant such as `2026-03-08T07:00:00Z`.
    private static func ms(_ text: String) -> Int64 {
        Int64(ISO8601DateFormatter().date(from: text)!.timeIntervalSince1970 * 1_000)
    }

    @Test("create, get, list, pause, resume and delete a schedule; the defaults are shown")
    func lifecycle() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            let created: V1.CreateScheduleResponse = try await server.call(
                .createSchedule, V1.CreateScheduleRequest(scheduleID: "nightly", spec: Self.spec()), token: token)
            let schedule = try #require(created.schedule)
            #expect(schedule.id == "nightly")
            #expect(schedule.state == .active)
            #expect(schedule.revision == 1)
            #expect(schedule.spec?.catchUpPolicy == .latest)
            #expect(schedule.spec?.overlapPolicy == .skip)
            #expect(schedule.spec?.dstGapPolicy == .runAfter)
            #expect(schedule.spec?.catchUpLimit == 100)
            #expect(schedule.spec?.jobTemplate?.maxAttempts == 25)
            #expect(schedule.spec?.jobTemplate?.payloadJSON == Array(#"{"kind":"nightly"}"#.utf8))
            let now = Int64(Date().timeIntervalSince1970 * 1_000)
            #expect(schedule.nextFireAtUnixMs > now && schedule.nextFireAtUnixMs <= now + 86_400_000)

            // The next fire is the preview's first.
            let preview: V1.PreviewScheduleResponse = try await server.call(
                .previewSchedule, V1.PreviewScheduleRequest(count: 3, source: .scheduleID("nightly")), token: token)
            #expect(preview.fireTimes.count == 3)
            #expect(preview.fireTimes.first?.nominalUnixMs == schedule.nextFireAtUnixMs)
            #expect(preview.fireTimes.allSatisfy { $0.localTime.contains("T03:00:00+0") })

            let got: V1.GetScheduleResponse = try await server.call(
                .getSchedule, V1.GetScheduleRequest(scheduleID: "nightly"), token: try server.token("acme", [.viewer]))
            #expect(got.schedule == schedule)

            let paused: V1.PauseScheduleResponse = try await server.call(
                .pauseSchedule, V1.PauseScheduleRequest(scheduleID: "nightly", reason: "holiday"), token: token)
            #expect(paused.schedule?.state == .paused)
            #expect(paused.schedule?.nextFireAtUnixMs == 0)
            #expect(paused.schedule?.pauseReason == "holiday")
            let pausedList: V1.ListSchedulesResponse = try await server.call(
                .listSchedules, V1.ListSchedulesRequest(state: .paused), token: token)
            #expect(pausedList.schedules.map(\.id) == ["nightly"])
            let resumed: V1.ResumeScheduleResponse = try await server.call(
                .resumeSchedule, V1.ResumeScheduleRequest(scheduleID: "nightly"), token: token)
            #expect(resumed.schedule?.state == .active)
            #expect(resumed.schedule?.nextFireAtUnixMs == schedule.nextFireAtUnixMs)

            let _: V1.DeleteScheduleResponse = try await server.call(
                .deleteSchedule, V1.DeleteScheduleRequest(scheduleID: "nightly"), token: token)
            let gone = await server.status(.getSchedule, V1.GetScheduleRequest(scheduleID: "nightly"), token: token)
            #expect(gone.code == .notFound)
        }
    }

    @Test("another tenant's schedule is NOT_FOUND like a missing one, for every call")
    func isolation() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme", "globex")
            let acme = try server.token("acme", [.operator])
            let globex = try server.token("globex", [.operator])
            let _: V1.CreateScheduleResponse = try await server.call(
                .createSchedule, V1.CreateScheduleRequest(scheduleID: "nightly", spec: Self.spec()), token: acme)
            for id in ["nightly", "missing"] {
                let calls: [(MethodDescriptor, any ProtoMessage)] = [
                    (.getSchedule, V1.GetScheduleRequest(scheduleID: id)),
                    (.updateSchedule, V1.UpdateScheduleRequest(scheduleID: id, spec: Self.spec("@hourly"))),
                    (.pauseSchedule, V1.PauseScheduleRequest(scheduleID: id)),
                    (.resumeSchedule, V1.ResumeScheduleRequest(scheduleID: id)),
                    (.deleteSchedule, V1.DeleteScheduleRequest(scheduleID: id)),
                    (.previewSchedule, V1.PreviewScheduleRequest(source: .scheduleID(id))),
                ]
                for (method, request) in calls {
                    let status = await server.status(method, request, token: globex)
                    #expect(status.code == .notFound, "\(method.fullName)")
                    #expect(status.message == "there is no schedule '\(id)'", "\(method.fullName)")
                }
            }
            let still: V1.GetScheduleResponse = try await server.call(
                .getSchedule, V1.GetScheduleRequest(scheduleID: "nightly"), token: acme)
            #expect(still.schedule?.revision == 1)
        }
    }

    @Test("an update by mask keeps the other fields; a stale revision is ABORTED and changes nothing")
    func updates() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            let _: V1.CreateScheduleResponse = try await server.call(
                .createSchedule, V1.CreateScheduleRequest(scheduleID: "nightly", spec: Self.spec()), token: token)
            var change = V1.ScheduleSpec()
            change.expression = "*/5 * * * *"
            let updated: V1.UpdateScheduleResponse = try await server.call(
                .updateSchedule,
                V1.UpdateScheduleRequest(
                    scheduleID: "nightly", spec: change, updateMask: ["expression"], expectedRevision: 1),
                token: token)
            #expect(updated.schedule?.revision == 2)
            #expect(updated.schedule?.spec?.expression == "*/5 * * * *")
            #expect(updated.schedule?.spec?.jobTemplate?.queue == "reports")
            #expect(updated.schedule?.spec?.timeZone == "Europe/Berlin")
            let now = Int64(Date().timeIntervalSince1970 * 1_000)
            #expect((updated.schedule?.nextFireAtUnixMs ?? 0) <= now + 300_000)

            let stale = await server.status(
                .updateSchedule,
                V1.UpdateScheduleRequest(
                    scheduleID: "nightly", spec: Self.spec("@hourly"), expectedRevision: 1),
                token: token)
            #expect(stale.code == .aborted)
            #expect(stale.message.contains("is at revision 2, not 1"))
            let badMask = await server.status(
                .updateSchedule,
                V1.UpdateScheduleRequest(scheduleID: "nightly", spec: change, updateMask: ["expresion"]),
                token: token)
            #expect(badMask.code == .invalidArgument)
            #expect(badMask.message.contains("'expresion', which is not a field of the spec"))
            let read: V1.GetScheduleResponse = try await server.call(
                .getSchedule, V1.GetScheduleRequest(scheduleID: "nightly"), token: token)
            #expect(read.schedule == updated.schedule)
        }
    }

    @Test("bad specs are refused naming the field and what is accepted; nothing is created")
    func badSpecs() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.operator])
            var keyed = Self.spec()
            keyed.jobTemplate?.idempotencyKey = "k"
            var noTemplate = Self.spec()
            noTemplate.jobTemplate = nil
            var jitter = Self.spec()
            jitter.jitterMs = 3_600_001
            let cases: [(V1.ScheduleSpec, String)] = [
                (Self.spec("0 3 32 * *"), "spec.expression"),
                (Self.spec("0 3 * *"), "spec.expression"),
                (Self.spec(zone: "Mars/Olympus"), "spec.time_zone"),
                (keyed, "spec.job_template.idempotency_key"),
                (noTemplate, "spec.job_template is required"),
                (jitter, "spec.jitter_ms must be 0 to 3600000"),
            ]
            for (spec, expected) in cases {
                let status = await server.status(
                    .createSchedule, V1.CreateScheduleRequest(scheduleID: "bad", spec: spec), token: token)
                #expect(status.code == .invalidArgument, "\(expected)")
                #expect(status.message.hasPrefix(expected), "\(status.message)")
            }
            let dayOfMonth = await server.status(
                .createSchedule, V1.CreateScheduleRequest(spec: Self.spec("0 3 32 * *")), token: token)
            #expect(dayOfMonth.message.contains("day-of-month"))
            let list: V1.ListSchedulesResponse = try await server.call(
                .listSchedules, V1.ListSchedulesRequest(), token: token)
            #expect(list.schedules.isEmpty)
        }
    }

    @Test("the schedules quota holds; a viewer may read but not create")
    func quotaAndRoles() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let platform = try server.token(nil, [.platformAdmin])
            let _: V1.SetQuotasResponse = try await server.call(
                .setQuotas,
                V1.SetQuotasRequest(
                    tenantID: "acme", quotas: V1.Quotas(maxSchedules: 1), updateMask: ["max_schedules"]),
                token: platform)
            let token = try server.token("acme", [.operator])
            let first: V1.CreateScheduleResponse = try await server.call(
                .createSchedule, V1.CreateScheduleRequest(spec: Self.spec()), token: token)
            #expect(first.schedule?.id.hasPrefix("sch-") == true)
            let second = await server.status(.createSchedule, V1.CreateScheduleRequest(spec: Self.spec()), token: token)
            #expect(second.code == .resourceExhausted)
            let viewer = await server.status(
                .createSchedule, V1.CreateScheduleRequest(spec: Self.spec()), token: try server.token("acme", [.viewer])
            )
            #expect(viewer.code == .permissionDenied)
        }
    }

    @Test("preview across New York's daylight-saving changes shows the moved and the repeated fire")
    func previewAcrossDST() async throws {
        try await AuthHarness.with { server in
            try await server.createTenants("acme")
            let token = try server.token("acme", [.viewer])
            let spring: V1.PreviewScheduleResponse = try await server.call(
                .previewSchedule,
                V1.PreviewScheduleRequest(
                    count: 2, afterUnixMs: Self.ms("2026-03-07T12:00:00Z"),
                    source: .spec(Self.spec("30 2 * * *", zone: "America/New_York"))),
                token: token)
            #expect(
                spring.fireTimes.map(\.nominalUnixMs) == [
                    Self.ms("2026-03-08T07:00:00Z"), Self.ms("2026-03-09T06:30:00Z"),
                ])
            #expect(spring.fireTimes.map(\.adjustment) == [.movedOutOfGap, .exact])
            #expect(spring.fireTimes.first?.localTime == "2026-03-08T03:00:00-04:00")

            var twice = Self.spec("30 1 * * *", zone: "America/New_York")
            twice.dstOverlapPolicy = .twice
            let fall: V1.PreviewScheduleResponse = try await server.call(
                .previewSchedule,
                V1.PreviewScheduleRequest(count: 3, afterUnixMs: Self.ms("2026-10-31T12:00:00Z"), source: .spec(twice)),
                token: token)
            #expect(
                fall.fireTimes.map(\.nominalUnixMs) == [
                    Self.ms("2026-11-01T05:30:00Z"), Self.ms("2026-11-01T06:30:00Z"), Self.ms("2026-11-02T06:30:00Z"),
                ])
            #expect(fall.fireTimes.map(\.adjustment) == [.exact, .secondOccurrence, .exact])
            #expect(
                fall.fireTimes.map(\.localTime) == [
                    "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00",
                ])
            let tooMany = await server.status(
                .previewSchedule, V1.PreviewScheduleRequest(count: 1_001, source: .spec(twice)), token: token)
            #expect(tooMany.code == .invalidArgument)
        }
    }
}
