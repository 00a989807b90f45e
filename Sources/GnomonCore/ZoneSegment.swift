import Foundation

/// A span of time in which a zone keeps one UTC offset, between two of its transitions.
struct ZoneSegment {
    /// The transition that began the segment, when there was one in the week before.
    var start: Int64?
    var previousOffset: Int64
    var offset: Int64
    /// The transition that ends the segment, or nil when the zone never changes again.
    var end: Int64?
    var nextOffset: Int64

    /// The segment that `instant` falls in.
    init(containing instant: Int64, in zone: TimeZone) {
        var start: Int64?
        // Only a recent start matters: it tells which wall-clock times were already shown once.
        var probe = instant - 7 * 86_400
        while let transition = Self.transition(after: probe, in: zone), transition <= instant {
            start = transition
            probe = transition
        }
        self.init(start: start, offset: Self.offset(at: instant, in: zone), endAfter: instant, zone: zone)
    }

    private init(start: Int64?, offset: Int64, endAfter instant: Int64, zone: TimeZone) {
        self.start = start
        self.previousOffset = start.map { Self.offset(at: $0 - 1, in: zone) } ?? offset
        self.offset = offset
        self.end = Self.transition(after: instant, in: zone)
        self.nextOffset = self.end.map { Self.offset(at: $0, in: zone) } ?? offset
    }

    /// The segment after this one; only called when this one ends.
    func following(in zone: TimeZone) -> ZoneSegment {
        ZoneSegment(start: self.end!, offset: self.nextOffset, endAfter: self.end!, zone: zone)
    }

    /// Where the wall-clock times this segment repeats from the one before it end, if it does.
    ///
    /// After the clock is turned back from 02:00 to 01:00, walls from 01:00 up to this 02:00
    /// were already shown before the transition: they are the overlap's second pass.
    var repeatedWallsEnd: Int64? {
        guard let start = self.start, self.previousOffset > self.offset else {
            return nil
        }
        return start + self.previousOffset
    }

    static func offset(at instant: Int64, in zone: TimeZone) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant))))
    }

    static func transition(after instant: Int64, in zone: TimeZone) -> Int64? {
        zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(instant))).map {
            Int64($0.timeIntervalSince1970.rounded(.down))
        }
    }
}
