/// The 4-byte big-endian length that precedes every frame.
enum FrameHeader {
    /// The size of the prefix in bytes.
    static let length = 4

    /// Writes a length prefix at `offset`.
    static func write(length: UInt32, into bytes: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: length >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: length)
    }

    /// Reads a length prefix from the four bytes at `offset`.
    static func read(from bytes: [UInt8], at offset: Int) -> Int {
        let value =
            UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
        return Int(value)
    }
}
