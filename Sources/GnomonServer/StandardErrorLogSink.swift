import Foundation
public import GnomonCore

/// Writes log records to standard error: one JSON object a line, or aligned text for people.
public final class StandardErrorLogSink: LogSink, @unchecked Sendable {
    /// How records are written.
    public enum Format: Sendable {
        /// One JSON object a line, for log collectors.
        case json
        /// `time level source: message key=value`, for a terminal.
        case text
    }

    private let format: Format
    // Records from many threads must not interleave within a line.
    private let lock = Mutex()

    /// Creates a sink writing in `format`.
    public init(format: Format) {
        self.format = format
    }

    /// Chooses text when standard error is a terminal and JSON otherwise.
    public static func automaticFormat() -> Format {
        isatty(STDERR_FILENO) == 1 ? .text : .json
    }

    public func write(_ record: LogRecord) {
        let timestamp = Self.timestamp()
        var line: String
        switch self.format {
        case .json:
            line = LogLineFormatter.json(record, timestamp: timestamp)
        case .text:
            line = LogLineFormatter.text(record, timestamp: timestamp)
        }
        line.append("\n")
        self.lock.withLock {
            var bytes = Array(line.utf8)
            bytes.withUnsafeMutableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let milliseconds = UTCDateTime.pad(Int(now.tv_nsec / 1_000_000), 3)
        return UTCDateTime(secondsSinceEpoch: Int64(now.tv_sec)).formatted() + "." + milliseconds + "Z"
    }
}

/// A pthread mutex for the few places that need one outside Swift concurrency.
final class Mutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()

    init() {
        pthread_mutex_init(&self.mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(&self.mutex)
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&self.mutex)
        defer { pthread_mutex_unlock(&self.mutex) }
        return try body()
    }
}
