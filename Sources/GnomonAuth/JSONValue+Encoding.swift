extension JSONValue {
    /// The value as compact JSON text, with object keys in ascending order of their UTF-8 bytes.
    ///
    /// - Returns: UTF-8 JSON text; the same value always gives the same bytes.
    public func encoded() -> [UInt8] {
        var output: [UInt8] = []
        self.encode(into: &output)
        return output
    }

    private func encode(into output: inout [UInt8]) {
        switch self {
        case .null:
            output += "null".utf8
        case .bool(let value):
            output += (value ? "true" : "false").utf8
        case .number(let number):
            output += number.text.utf8
        case .string(let string):
            Self.encode(string, into: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 {
                    output.append(UInt8(ascii: ","))
                }
                element.encode(into: &output)
            }
            output.append(UInt8(ascii: "]"))

        case .object(let members):
            output.append(UInt8(ascii: "{"))
            let keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (index, key) in keys.enumerated() {
                if index > 0 {
                    output.append(UInt8(ascii: ","))
                }
                Self.encode(key, into: &output)
                output.append(UInt8(ascii: ":"))
                members[key]!.encode(into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func encode(_ string: String, into output: inout [UInt8]) {
        let hexDigits = Array("0123456789abcdef".utf8)
        output.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                output += [UInt8(ascii: "\\"), byte]
            case 0x0A:
                output += "\\n".utf8
            case 0..<0x20:
                output += "\\u00".utf8
                output += [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
