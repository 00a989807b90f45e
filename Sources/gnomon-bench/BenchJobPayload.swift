/// What a benchmark job carries: the run it belongs to and the time its latency counts from.
///
/// The JSON is `{"p":<run>,"t":<microseconds>}` (read back with or without spaces), where the
/// time is on the ``EngineClock``: the intended submission time for an immediate job, the due
/// time for a scheduled or fan-out job. The worker reads it back with a scan of the bytes
/// rather than a JSON parser, so that decoding costs the worker next to nothing.
struct BenchJobPayload: Sendable, Hashable {
    /// The run: which ``ReceiptLog`` tally the job counts in.
    var run: Int
    /// Microseconds on the ``EngineClock`` that the job's latency is measured from.
    var time: Int64

    /// The payload as the job's `payload_json`.
    var json: [UInt8] {
        Array("{\"p\":\(self.run),\"t\":\(self.time)}".utf8)
    }

    /// Reads a payload written by ``json``.
    ///
    /// - Returns: `nil` for any other JSON, such as a job this benchmark did not submit.
    init?(json: [UInt8]) {
        guard let run = Self.integer(after: Array("\"p\":".utf8), in: json),
            let time = Self.integer(after: Array("\"t\":".utf8), in: json)
        else {
            return nil
        }
        self.run = Int(run)
        self.time = time
    }

    /// Creates a payload.
    init(run: Int, time: Int64) {
        self.run = run
        self.time = time
    }

    /// The integer that follows the first occurrence of `key`.
    private static func integer(after key: [UInt8], in bytes: [UInt8]) -> Int64? {
        guard bytes.count > key.count else {
            return nil
        }
        var start: Int?
        for index in 0...(bytes.count - key.count) where bytes[index..<(index + key.count)].elementsEqual(key) {
            start = index + key.count
            break
        }
        guard var index = start else {
            return nil
        }
        // PostgreSQL hands `jsonb` back with a space after each colon.
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") {
            index += 1
        }
        guard index < bytes.count else {
            return nil
        }
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative {
            index += 1
        }
        var value: Int64 = 0
        var digits = 0
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]), digits < 18 {
            value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
            index += 1
            digits += 1
        }
        guard digits > 0 else {
            return nil
        }
        return negative ? -value : value
    }
}
