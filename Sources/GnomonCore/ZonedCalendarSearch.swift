import Foundation

/// The search for a calendar expression's next fire in one zone, under one policy.
struct ZonedCalendarSearch {
    let fields: CronCalendarFields
    let zone: TimeZone
    let policy: CronSchedulePolicy

    /// Walks the zone's segments forwards, matching walls each segment shows, in instant order.
    func nextFire(after date: Date) -> Date? {
        guard self.fields.canEverMatch else {
            return nil
        }
        var from = Int64(date.timeIntervalSince1970.rounded(.down)) + 1
        let horizon = from + CronExpression.searchHorizon
        var segment = ZoneSegment(containing: from, in: self.zone)
        while from < horizon {
            if let fire = self.firstFire(in: segment, from: from, before: horizon) {
                return Date(timeIntervalSince1970: Double(fire))
            }
            guard let end = segment.end, end < horizon else {
                return nil
            }
            if let fire = self.gapFire(at: end, after: segment) {
                return Date(timeIntervalSince1970: Double(fire))
            }
            if let skip = self.skipTarget(after: end, horizon: horizon) {
                from = skip
                segment = ZoneSegment(containing: from, in: self.zone)
            } else {
                from = end
                segment = segment.following(in: self.zone)
            }
        }
        return nil
    }

    /// The largest UTC offset any zone has: wall clocks are within this of the instant.
    private static let widestOffset: Int64 = 14 * 3_600

    /// An instant past `end` up to which nothing can fire, when the next match is far away.
    ///
    /// Rare expressions would otherwise walk every daylight-saving segment up to their next
    /// match. Instants before the next matching wall minus the widest offset show only walls
    /// that do not match, so no fire or gap fire can happen there.
    private func skipTarget(after end: Int64, horizon: Int64) -> Int64? {
        let earliestWall = end - 2 * 86_400
        guard let match = self.fields.nextMatch(atOrAfter: earliestWall, before: horizon + Self.widestOffset) else {
            return horizon
        }
        let target = match - Self.widestOffset - 1
        return target > end ? target : nil
    }

    /// Wildcard-hour expressions count elapsed time, so they fire in both passes and fill no gaps.
    private var followsClock: Bool {
        self.fields.matchesEveryHour
    }

    /// The first fire at or after `from` among the walls `segment` shows.
    private func firstFire(in segment: ZoneSegment, from: Int64, before horizon: Int64) -> Int64? {
        let offset = segment.offset
        let endWall = min(segment.end ?? horizon, horizon) + offset
        var wall = from + offset
        while let match = self.fields.nextMatch(atOrAfter: wall, before: endWall) {
            let secondPass = segment.repeatedWallsEnd.map { match < $0 } ?? false
            if secondPass && !self.followsClock && self.policy.overlap == .once {
                wall = segment.repeatedWallsEnd!
                continue
            }
            return match - offset
        }
        return nil
    }

    /// The instant a gap ends, when the policy runs the walls the gap skipped and one matches.
    private func gapFire(at end: Int64, after segment: ZoneSegment) -> Int64? {
        guard segment.nextOffset > segment.offset, self.policy.gap == .runAtFirstValidInstant, !self.followsClock
        else {
            return nil
        }
        let skipped = self.fields.nextMatch(atOrAfter: end + segment.offset, before: end + segment.nextOffset)
        return skipped == nil ? nil : end
    }
}
