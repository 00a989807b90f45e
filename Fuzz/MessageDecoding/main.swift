import GnomonProtocol

/// Decodes one input as a message of the type its first byte picks, and checks the round trip.
///
/// libFuzzer calls this for every input it tries. Byte 0 picks the type from
/// ``MessageRoundTrip/messageTypes`` (modulo their number); the rest is the encoding to decode.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else {
        return 0
    }
    let types = MessageRoundTrip.messageTypes
    let type = types[Int(data[0]) % types.count]
    MessageRoundTrip.check(type, decoding: UnsafeBufferPointer(start: data + 1, count: size - 1))
    return 0
}
