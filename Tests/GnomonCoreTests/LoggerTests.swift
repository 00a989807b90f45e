import GnomonCore
import Synchronization
import Testing

/// Keeps every record it is given.
private final class CollectingSink: LogSink {
    let records = Mutex<[LogRecord]>([])

    func write(_ record: LogRecord) {
        self.records.withLock { $0.append(record) }
    }
}

@Suite("Logger")
struct LoggerTests {
    @Test("records below the logger's level are dropped without building their message")
    func levelFilter() {
        let sink = CollectingSink()
        let logger = Logger(source: "test", level: .info, sink: sink)
        var built = false
        logger.debug(
            { () -> String in
                built = true
                return "hidden"
            }())
        logger.info("shown")
        logger.error("also shown")
        #expect(!built)
        #expect(sink.records.withLock { $0.map(\.message) } == ["shown", "also shown"])
    }

    @Test("metadata of the logger and of the call merge, the call's winning")
    func metadataMerge() {
        let sink = CollectingSink()
        var logger = Logger(source: "test", sink: sink)
        logger.metadata = [LogKey.node: "n1", LogKey.shard: "1"]
        logger.forSource("engine").info("moved", [LogKey.shard: "2"])
        let record = sink.records.withLock { $0.first }
        #expect(record?.source == "engine")
        #expect(record?.metadata == [LogKey.node: "n1", LogKey.shard: "2"])
    }

    @Test("level names parse in any case and unknown names do not")
    func levelNames() {
        #expect(LogLevel(name: "WARNING") == .warning)
        #expect(LogLevel(name: "trace") == .trace)
        #expect(LogLevel(name: "loud") == nil)
        #expect(LogLevel.allCases.map(\.description).count == 7)
    }
}

@Suite("Log line formatting")
struct LogLineFormatterTests {
    private let record = LogRecord(
        level: .warning,
        message: "lease lost",
        metadata: [LogKey.shard: "7", LogKey.tenant: "acme"],
        source: "engine"
    )

    @Test("JSON lines put the fixed fields first and metadata in key order")
    func jsonLayout() {
        let line = LogLineFormatter.json(self.record, timestamp: "2026-01-02T03:04:05.678Z")
        #expect(
            line == #"{"ts":"2026-01-02T03:04:05.678Z","level":"warning","source":"engine","#
                + #""message":"lease lost","shard":"7","tenant":"acme"}"#
        )
    }

    @Test("JSON escapes quotes, backslashes and control characters")
    func jsonEscaping() {
        let record = LogRecord(level: .info, message: "a\"b\\c\nd\u{1}e", metadata: [:], source: "s")
        let line = LogLineFormatter.json(record, timestamp: "t")
        #expect(line.contains(#""message":"a\"b\\c\nd\u0001e""#))
    }

    @Test("metadata cannot overwrite the fixed fields of a JSON line")
    func reservedKeys() {
        let record = LogRecord(level: .info, message: "real", metadata: ["message": "fake"], source: "s")
        let line = LogLineFormatter.json(record, timestamp: "t")
        #expect(line.contains(#""message":"real""#))
        #expect(!line.contains("fake"))
    }

    @Test("text lines quote values that contain spaces")
    func textLayout() {
        let record = LogRecord(level: .info, message: "ready", metadata: ["a": "x y", "b": "z"], source: "gnomond")
        #expect(LogLineFormatter.text(record, timestamp: "t") == #"t INFO gnomond: ready a="x y" b=z"#)
    }
}
