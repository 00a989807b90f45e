import GnomonCore

/// Writes the records of the benchmark's server process to standard error, as text lines.
struct BenchLogSink: LogSink {
    /// Writes one record as `rpc-server: <level> <message> key=value…`.
    func write(_ record: LogRecord) {
        let metadata = record.metadata.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        printError("rpc-server: \(record.level) \(record.message)\(metadata)")
    }
}
