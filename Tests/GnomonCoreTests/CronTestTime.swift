import Foundation

/// Instants written as ISO 8601 text with an offset, and fire times printed back the same way.
enum CronTestTime {
    /// The instant `text`, such as `2025-03-09T03:00:00-04:00`, names.
    static func instant(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) {
            return date
        }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)!
    }

    /// `date` on the wall clock of `zone` with its offset: `2025-03-09T03:00:00-04:00`.
    static func local(_ date: Date, _ zone: TimeZone) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = zone
        formatter.formatOptions = [.withInternetDateTime, .withColonSeparatorInTimeZone]
        return formatter.string(from: date)
    }

    /// The zone named `identifier`, which must exist.
    static func zone(_ identifier: String) -> TimeZone {
        TimeZone(identifier: identifier)!
    }
}
