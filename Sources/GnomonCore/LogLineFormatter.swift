/// Renders log records as lines; pure, so the exact output is testable.
public enum LogLineFormatter {
    /// One JSON object: `ts`, `level`, `source`, `message`, then metadata keys in sorted order.
    ///
    /// - Parameters:
    ///   - record: The record to render.
    ///   - timestamp: The time to show, already formatted as RFC 3339.
    /// - Returns: The line, without a trailing newline.
    public static func json(_ record: LogRecord, timestamp: String) -> String {
        var fields = [
            ("ts", timestamp),
            ("level", record.level.description),
            ("source", record.source),
            ("message", record.message),
        ]
        let reserved = Set(fields.map(\.0))
        for key in record.metadata.keys.sorted() where !reserved.contains(key) {
            fields.append((key, record.metadata[key]!))
        }
        return "{" + fields.map { "\(Self.quoted($0.0)):\(Self.quoted($0.1))" }.joined(separator: ",") + "}"
    }

    /// `timestamp LEVEL source: message key=value …`, for people reading a terminal.
    public static func text(_ record: LogRecord, timestamp: String) -> String {
        var line = "\(timestamp) \(record.level.description.uppercased()) \(record.source): \(record.message)"
        for key in record.metadata.keys.sorted() {
            let value = record.metadata[key]!
            let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "\"" || $0 == "=" }
            line += " \(key)=\(needsQuotes ? Self.quoted(value) : value)"
        }
        return line
    }

    /// A JSON string literal, escaping what RFC 8259 requires.
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"":
                out += "\\\""
            case "\\":
                out += "\\\\"
            case "\n":
                out += "\\n"
            case "\r":
                out += "\\r"
            case "\t":
                out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
