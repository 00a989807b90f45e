import Foundation
import GnomonCore
import Testing

/// Gnomon's fire times against croniter and zoneinfo, for thousands of random expressions.
///
/// Starts are placed just before every daylight-saving change from 2024 to 2030 in zones with
/// whole-hour, half-hour and two-hour changes, changes at midnight, and offsets of 30 and 45
/// minutes. Each case is checked under all four policies against the policies' definitions,
/// computed by scripts/cron-reference from croniter's wall-clock matches and zoneinfo's
/// offsets. Where croniter's own handling of daylight saving time disagrees with Gnomon's
/// default policy, the disagreement must come from a gap or an overlap, and is counted under
/// the policy that explains it.
@Suite("Cron fire times against croniter")
struct CronReferenceTests {
    static let zones = [
        "America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Europe/Dublin",
        "Australia/Lord_Howe", "Australia/Sydney", "Pacific/Auckland", "Pacific/Chatham", "America/St_Johns",
        "America/Havana", "Antarctica/Troll", "Asia/Kathmandu", "Asia/Kolkata", "Asia/Tokyo", "America/Sao_Paulo",
        "UTC",
    ]
    static let caseCount = 3_000
    static let firesPerCase = 20

    @Test("random expressions fire as croniter and zoneinfo say, under every policy")
    func randomExpressions() async throws {
        var generator = SeededGenerator(seed: 0x6E6F_6D6F_6E63_726F)
        let cases = Self.makeCases(using: &generator)
        let clock = ContinuousClock()
        let started = clock.now
        let answers = try await Croniter.answers(cases)
        try #require(answers.count == cases.count)
        let referenceTime = started.duration(to: clock.now)

        var tally = Tally()
        for (testCase, answer) in zip(cases, answers) {
            tally.check(testCase, answer)
        }
        print(tally.summary(cases: cases.count, zones: Set(cases.map(\.zone)).count))
        print(
            "  croniter took \(referenceTime), Gnomon and the comparison \(started.duration(to: clock.now) - referenceTime)"
        )
        #expect(tally.errors == 0)
        #expect(tally.croniterAgreements > cases.count / 2)
        #expect(tally.policyFires > cases.count * Self.firesPerCase)
    }

    /// Cases cycling through the zones and, in each, through its changes from 2024 to 2030.
    static func makeCases(using generator: inout SeededGenerator) -> [Croniter.Case] {
        let transitions = Self.zones.map { Self.transitions(in: TimeZone(identifier: $0)!) }
        return (0..<Self.caseCount).map { index in
            let zoneIndex = index % Self.zones.count
            let changes = transitions[zoneIndex]
            let near: Int64
            if changes.isEmpty {
                near = Int64.random(in: 1_704_067_200..<1_924_992_000, using: &generator)
            } else {
                near = changes[(index / Self.zones.count) % changes.count]
            }
            let before = [
                Int64.random(in: 0...14_400, using: &generator), Int64.random(in: 0...259_200, using: &generator),
                Int64.random(in: 0...5_184_000, using: &generator),
            ]
            let lead = before[[0, 0, 0, 1, 1, 2].randomElement(using: &generator)!]
            return Croniter.Case(
                expression: RandomCronExpression.make(using: &generator),
                zone: Self.zones[zoneIndex],
                start: near - lead,
                count: Self.firesPerCase
            )
        }
    }

    /// The zone's offset changes from 2024 to 2030, as Foundation reports them.
    static func transitions(in zone: TimeZone) -> [Int64] {
        var changes: [Int64] = []
        var date = Date(timeIntervalSince1970: 1_704_067_200)
        while let next = zone.nextDaylightSavingTimeTransition(after: date), next.timeIntervalSince1970 < 1_924_992_000
        {
            changes.append(Int64(next.timeIntervalSince1970))
            date = next
        }
        return changes
    }
}

/// What the comparison found, for the summary and the failures.
private struct Tally {
    var policyFires = 0
    var croniterAgreements = 0
    var croniterByPolicy: [String: Int] = [:]
    var disagreementsByReason: [String: Int] = [:]
    var exampleByReason: [String: String] = [:]
    var refused = 0
    var errors = 0
    var casesWithGap = 0
    var casesWithOverlap = 0
    var wildcardHourCasesAtChanges = 0

    static let horizon: Int64 = 3_653 * 86_400

    mutating func check(_ testCase: Croniter.Case, _ answer: Croniter.Answer) {
        guard let policies = answer.policies, let croniter = answer.croniter else {
            self.refused += 1
            self.fail("croniter refused \(testCase.expression): \(answer.error ?? "")", testCase)
            return
        }
        let situations = Set(answer.situations ?? [])
        self.casesWithGap += situations.contains("gap") ? 1 : 0
        self.casesWithOverlap += situations.contains("twice") ? 1 : 0
        self.wildcardHourCasesAtChanges += !situations.isEmpty && answer.everyHour == true ? 1 : 0
        let schedule: CronSchedule
        do {
            schedule = try CronSchedule(expression: testCase.expression, timeZoneIdentifier: testCase.zone)
        } catch {
            self.fail("Gnomon refused it: \(error)", testCase)
            return
        }
        var gnomonDefault: [Int64] = []
        for gap in CronGapPolicy.allCases {
            for overlap in CronOverlapPolicy.allCases {
                let policy = CronSchedulePolicy(gap: gap, overlap: overlap)
                let fires = self.fires(schedule, policy, testCase)
                let expected = policies["\(gap.rawValue)/\(overlap.rawValue)"] ?? []
                if fires != expected {
                    self.fail(
                        "under \(policy), Gnomon fired \(fires) but the policy's definition is \(expected)", testCase)
                }
                self.policyFires += fires.count
                if policy == .default {
                    gnomonDefault = fires
                }
                if fires == croniter {
                    self.croniterByPolicy[policy.description, default: 0] += 1
                }
            }
        }
        self.compareWithCroniter(gnomonDefault, croniter, answer, testCase)
    }

    /// Disagreements with croniter are allowed only where the default policy explains them.
    private mutating func compareWithCroniter(
        _ gnomon: [Int64], _ croniter: [Int64], _ answer: Croniter.Answer, _ testCase: Croniter.Case
    ) {
        guard gnomon != croniter else {
            self.croniterAgreements += 1
            return
        }
        let situations = Set(answer.situations ?? []).union(Self.situations(croniter, testCase))
        let everyHour = answer.everyHour ?? false
        var reasons: [String] = []
        if situations.contains("gap") {
            reasons.append(
                everyHour
                    ? "gap, hour field matches every hour: follows the clock, nothing made up"
                    : "gap: run_at_first_valid_instant fires once at the gap's end")
        }
        if situations.contains("twice") {
            reasons.append(
                everyHour
                    ? "overlap, hour field matches every hour: fires in both passes"
                    : "overlap: once fires at the first occurrence only")
        }
        guard !reasons.isEmpty else {
            self.fail("croniter fired \(croniter) but Gnomon \(gnomon), away from any DST change", testCase)
            return
        }
        for reason in reasons {
            self.disagreementsByReason[reason, default: 0] += 1
            if self.exampleByReason[reason] == nil {
                let first = zip(gnomon, croniter).first { $0 != $1 }.map { "Gnomon \($0.0), croniter \($0.1)" } ?? ""
                self.exampleByReason[reason] =
                    "\(testCase.expression) in \(testCase.zone) after \(testCase.start): \(first)"
            }
        }
    }

    /// Fires within the reference's ten-year horizon, as seconds since the Unix epoch.
    private func fires(_ schedule: CronSchedule, _ policy: CronSchedulePolicy, _ testCase: Croniter.Case) -> [Int64] {
        var schedule = schedule
        schedule.policy = policy
        return schedule.fires(after: Date(timeIntervalSince1970: Double(testCase.start)), count: testCase.count)
            .map { Int64($0.timeIntervalSince1970) }
            .filter { $0 <= testCase.start + Self.horizon }
    }

    /// Whether croniter's own fires fall on instants whose wall-clock reading is repeated or skipped.
    private static func situations(_ fires: [Int64], _ testCase: Croniter.Case) -> Set<String> {
        let zone = TimeZone(identifier: testCase.zone)!
        var found: Set<String> = []
        for fire in fires {
            let date = Date(timeIntervalSince1970: Double(fire))
            let before = zone.secondsFromGMT(for: date.addingTimeInterval(-7_200))
            let after = zone.secondsFromGMT(for: date.addingTimeInterval(7_200))
            if before != after {
                found.insert(before < after ? "gap" : "twice")
            }
        }
        return found
    }

    private mutating func fail(_ message: String, _ testCase: Croniter.Case) {
        self.errors += 1
        if self.errors <= 20 {
            Issue.record("\(testCase.expression) in \(testCase.zone) after \(testCase.start): \(message)")
        }
    }

    func summary(cases: Int, zones: Int) -> String {
        var lines = [
            "cron reference: \(cases) expressions in \(zones) zones, 4 policies each: \(self.policyFires) fires "
                + "checked against the policies' definitions, \(self.errors) mismatches",
            "fires landing in a gap: \(self.casesWithGap) cases; in an overlap: \(self.casesWithOverlap) cases; "
                + "of these, \(self.wildcardHourCasesAtChanges) with an hour field matching every hour",
            "croniter's own DST handling agrees with Gnomon's default policy on \(self.croniterAgreements) of \(cases)",
        ]
        lines += self.croniterByPolicy.sorted { $0.key < $1.key }.map { "  croniter equals \($0.key): \($0.value)" }
        lines += self.disagreementsByReason.sorted { $0.key < $1.key }.map {
            "  differs at \($0.key): \($0.value), such as \(self.exampleByReason[$0.key] ?? "")"
        }
        return lines.joined(separator: "\n")
    }
}
