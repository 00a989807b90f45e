public import GnomonCore
import Synchronization

/// Collects log records so tests can count and inspect them.
public final class LogRecorder: LogSink, Sendable {
    /// Creates an empty recorder.
    public init() {}

    private let collected = Mutex<[LogRecord]>([])

    /// A logger at trace level writing here.
    public var logger: Logger {
        Logger(source: "test", level: .trace, sink: self)
    }

    public func write(_ record: LogRecord) {
        self.collected.withLock { $0.append(record) }
    }

    /// The records with exactly this message, in the order written.
    public func records(withMessage message: String) -> [LogRecord] {
        self.collected.withLock { $0.filter { $0.message == message } }
    }
}
