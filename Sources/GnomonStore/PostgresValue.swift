public import Foundation
import GnomonCore

/// A parameter value as it is sent to PostgreSQL: never spliced into SQL text.
public enum PostgresValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// A value in PostgreSQL's text input format for the parameter's type.
    case text(String)
    /// Raw bytes, sent in binary format; for `bytea` parameters.
    case bytes([UInt8])
}

/// A Swift value that can be bound to a statement parameter.
public protocol PostgresBindable {
    /// The value as it is sent.
    var postgresValue: PostgresValue { get }
}

extension PostgresValue: PostgresBindable {
    public var postgresValue: PostgresValue { self }
}

extension String: PostgresBindable {
    public var postgresValue: PostgresValue { .text(self) }
}

extension Int: PostgresBindable {
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Int16: PostgresBindable {
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Int32: PostgresBindable {
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Int64: PostgresBindable {
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension UInt32: PostgresBindable {
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Double: PostgresBindable {
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Bool: PostgresBindable {
    public var postgresValue: PostgresValue { .text(self ? "true" : "false") }
}

extension UUID: PostgresBindable {
    public var postgresValue: PostgresValue { .text(self.uuidString.lowercased()) }
}

extension Array: PostgresBindable where Element == UInt8 {
    public var postgresValue: PostgresValue { .bytes(self) }
}

extension Date: PostgresBindable {
    /// Microseconds since the epoch as a `timestamptz`, PostgreSQL's own precision.
    public var postgresValue: PostgresValue {
        let micros = (self.timeIntervalSince1970 * 1_000_000).rounded()
        return .text(PostgresTimestamp.text(microsecondsSinceEpoch: Int64(micros)))
    }
}

extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    public var postgresValue: PostgresValue {
        switch self {
        case .none: return .null
        case .some(let value): return value.postgresValue
        }
    }
}

/// Converts between `timestamptz` text and microseconds since the Unix epoch.
public enum PostgresTimestamp {
    /// `timestamptz` input text for an instant, exact to the microsecond.
    public static func text(microsecondsSinceEpoch micros: Int64) -> String {
        // ISO 8601 with an explicit offset is read alike whatever the session's DateStyle and zone.
        let seconds = micros.quotientAndRemainder(dividingBy: 1_000_000)
        var fraction = seconds.remainder
        var whole = seconds.quotient
        if fraction < 0 {
            fraction += 1_000_000
            whole -= 1
        }
        let time = UTCDateTime(secondsSinceEpoch: whole).formatted(separator: " ")
        return time + "." + UTCDateTime.pad(Int(fraction), 6) + "+00"
    }
}
