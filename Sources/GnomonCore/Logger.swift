/// How much a log record matters, from most verbose to most severe.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case trace = 0
    case debug
    case info
    case notice
    case warning
    case error
    case critical

    /// Parses a level from its lower-case name, as used in flags and environment variables.
    ///
    /// - Parameter name: One of `trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`.
    /// - Returns: The level, or `nil` when the name is not one of those.
    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.description == name.lowercased() }) else {
            return nil
        }
        self = level
    }

    public var description: String {
        switch self {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .notice: return "notice"
        case .warning: return "warning"
        case .error: return "error"
        case .critical: return "critical"
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// The metadata keys Gnomon logs under, kept in one place so every module spells them alike.
public enum LogKey {
    public static let tenant = "tenant"
    public static let jobID = "job_id"
    public static let shard = "shard"
    public static let leaseEpoch = "lease_epoch"
    public static let requestID = "request_id"
    public static let node = "node"
    public static let error = "error"
    public static let path = "path"
    public static let address = "address"
    public static let pid = "pid"
}

/// One structured log record: a level, a fixed message and metadata.
public struct LogRecord: Sendable {
    public var level: LogLevel
    public var message: String
    public var metadata: [String: String]
    public var source: String

    /// Creates a record.
    public init(level: LogLevel, message: String, metadata: [String: String], source: String) {
        self.level = level
        self.message = message
        self.metadata = metadata
        self.source = source
    }
}

/// Where log records go; the server writes them to stderr, tests may collect them.
public protocol LogSink: Sendable {
    /// Accepts one record that has already passed the logger's level check.
    func write(_ record: LogRecord)
}

/// A structured logger that libraries receive from their caller instead of creating one.
///
/// Messages are fixed sentences; anything variable goes into metadata under a ``LogKey``.
/// Secrets, tokens and payload bodies are never passed to a logger.
public struct Logger: Sendable {
    public var level: LogLevel
    public var metadata: [String: String]
    private let sink: any LogSink
    private let source: String

    /// Creates a logger writing to `sink` the records at or above `level`.
    ///
    /// - Parameters:
    ///   - source: The component logging, such as `store` or `server`.
    ///   - level: The lowest level written.
    ///   - sink: Where records go.
    public init(source: String, level: LogLevel = .info, sink: any LogSink) {
        self.source = source
        self.level = level
        self.metadata = [:]
        self.sink = sink
    }

    /// A logger that discards everything, for callers that do not want logs.
    public static let disabled = Logger(source: "disabled", level: .critical, sink: DiscardingLogSink())

    /// Returns a copy of this logger for another component, keeping level, sink and metadata.
    public func forSource(_ source: String) -> Logger {
        var copy = Logger(source: source, level: self.level, sink: self.sink)
        copy.metadata = self.metadata
        return copy
    }

    /// Writes a record when `level` is at or above this logger's level.
    public func log(_ level: LogLevel, _ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) {
        guard level >= self.level else {
            return
        }
        let merged = self.metadata.merging(metadata) { _, new in new }
        self.sink.write(LogRecord(level: level, message: message(), metadata: merged, source: self.source))
    }

    public func trace(_ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) {
        self.log(.trace, message(), metadata)
    }

    public func debug(_ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) {
        self.log(.debug, message(), metadata)
    }

    public func info(_ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) {
        self.log(.info, message(), metadata)
    }

    public func warning(_ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) {
        self.log(.warning, message(), metadata)
    }

    public func error(_ message: @autoclosure () -> String, _ metadata: [String: String] = [:]) {
        self.log(.error, message(), metadata)
    }
}

private struct DiscardingLogSink: LogSink {
    func write(_ record: LogRecord) {}
}
