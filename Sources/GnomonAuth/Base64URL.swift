/// Base64url without padding (RFC 7515 section 2), decoded strictly.
///
/// A token has exactly one spelling: padding, characters outside the URL-safe alphabet, a
/// length that leaves a single character over, and a last character whose unused low bits are
/// not zero are all refused, so two different strings never decode to the same bytes.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Each byte's value in the alphabet, or 0xFF for a byte that is not in it.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in Self.alphabet.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()

    /// Encodes bytes without padding.
    ///
    /// - Parameter bytes: The bytes to encode.
    /// - Returns: The base64url text.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let group = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            let count = third != nil ? 4 : second != nil ? 3 : 2
            for index in 0..<count {
                output.append(Self.alphabet[Int(group >> (18 - 6 * UInt32(index)) & 0x3F)])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes unpadded base64url text, refusing every non-canonical spelling.
    ///
    /// - Parameter text: The encoded bytes, such as one segment of a token.
    /// - Returns: The decoded bytes, or `nil` when `text` is not canonical base64url.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        let remainder = text.count % 4
        guard remainder != 1 else {
            return nil
        }
        var output: [UInt8] = []
        output.reserveCapacity(text.count * 3 / 4)
        var group: UInt32 = 0
        var count = 0
        for byte in text {
            let value = Self.values[Int(byte)]
            guard value != 0xFF else {
                return nil
            }
            group = group << 6 | UInt32(value)
            count += 1
            if count == 4 {
                output.append(UInt8(truncatingIfNeeded: group >> 16))
                output.append(UInt8(truncatingIfNeeded: group >> 8))
                output.append(UInt8(truncatingIfNeeded: group))
                group = 0
                count = 0
            }
        }
        switch count {
        case 2:
            // 12 bits for one byte: the low 4 must be zero.
            guard group & 0x0F == 0 else {
                return nil
            }
            output.append(UInt8(truncatingIfNeeded: group >> 4))

        case 3:
            // 18 bits for two bytes: the low 2 must be zero.
            guard group & 0x03 == 0 else {
                return nil
            }
            output.append(UInt8(truncatingIfNeeded: group >> 10))
            output.append(UInt8(truncatingIfNeeded: group >> 2))

        default:
            break
        }
        return output
    }

    /// Decodes unpadded base64url text, refusing every non-canonical spelling.
    ///
    /// - Parameter text: The encoded text.
    /// - Returns: The decoded bytes, or `nil` when `text` is not canonical base64url.
    public static func decode(_ text: String) -> [UInt8]? {
        Self.decode(Array(text.utf8))
    }
}
