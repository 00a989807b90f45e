public import Foundation

/// Spreads fires that share a time over a window, the same way on every node and every run.
///
/// The delay depends only on the schedule's id and the fire time, through FNV-1a (64-bit) and
/// SplitMix64's finaliser, never on Swift's `Hasher`, whose seed changes with every process.
/// Every node computes the same delay, so a retried or re-leased fire keeps its slot.
public enum CronJitter {
    /// A delay from zero to `maximum` inclusive, fixed by the schedule and the fire time.
    ///
    /// - Parameters:
    ///   - scheduleID: The schedule's stable id.
    ///   - fireTime: The fire time the delay is for; sub-second parts are ignored.
    ///   - maximum: The longest delay; zero or less gives zero.
    /// - Returns: A delay in whole milliseconds, from zero to `maximum`.
    public static func jitter(scheduleID: String, fireTime: Date, maximum: Duration) -> Duration {
        let (seconds, attoseconds) = maximum.components
        let limit = seconds * 1_000 + attoseconds / 1_000_000_000_000_000
        guard limit > 0 else {
            return .zero
        }
        var bytes = Array(scheduleID.utf8)
        // A separator, so that ids that are prefixes of each other hash differently.
        bytes.append(0)
        let second = Int64(fireTime.timeIntervalSince1970.rounded(.down))
        withUnsafeBytes(of: second.littleEndian) { bytes += $0 }
        let hash = Self.mix(Self.fnv1a(bytes))
        return .milliseconds(Int64(hash % UInt64(limit + 1)))
    }

    /// FNV-1a, 64 bits.
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// SplitMix64's finaliser: FNV-1a alone barely changes its high bits for a change in the last byte.
    static func mix(_ value: UInt64) -> UInt64 {
        var mixed = value
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
