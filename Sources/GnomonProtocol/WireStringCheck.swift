internal import CProtobufC

/// Finds string fields that hold a NUL byte in an encoded message, which protobuf-c would cut
/// short at that byte when it unpacks them.
///
/// It walks the encoding with the message's descriptor, into nested messages and map entries;
/// unknown fields are skipped. Call it on bytes protobuf-c has already unpacked, so the
/// encoding is known to be well formed; anything it cannot follow ends the walk quietly.
enum WireStringCheck {
    /// Nesting deeper than this is not followed; protobuf-c refuses deeper messages anyway.
    private static let maximumDepth = 100

    /// The dotted path of the first string field holding a NUL, such as `metadata.tenant_id`,
    /// or `nil` when there is none.
    static func fieldHoldingNUL(
        in bytes: UnsafeBufferPointer<UInt8>,
        descriptor: UnsafePointer<ProtobufCMessageDescriptor>
    ) -> String? {
        Self.walk(UnsafeRawBufferPointer(bytes), descriptor: descriptor, depth: 0)
    }

    private static func walk(
        _ bytes: UnsafeRawBufferPointer,
        descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
        depth: Int
    ) -> String? {
        guard depth < Self.maximumDepth else {
            return nil
        }
        var reader = WireReader(bytes: bytes)
        while let key = reader.varint() {
            let wireType = key & 7
            let number = key >> 3
            switch wireType {
            case 0:
                guard reader.varint() != nil else { return nil }
            case 1:
                guard reader.skip(8) else { return nil }
            case 5:
                guard reader.skip(4) else { return nil }
            case 2:
                guard let value = reader.lengthDelimited() else { return nil }
                guard number <= UInt64(UInt32.max),
                    let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(number))
                else {
                    continue
                }
                let name = field.pointee.name.map { String(cString: $0) } ?? "\(number)"
                switch field.pointee.type {
                case PROTOBUF_C_TYPE_STRING:
                    if value.contains(0) {
                        return name
                    }
                case PROTOBUF_C_TYPE_MESSAGE:
                    let nested = field.pointee.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
                    if let inner = Self.walk(value, descriptor: nested, depth: depth + 1) {
                        // A map's entries are messages of their own, with fields "key" and "value".
                        return "\(name).\(inner)"
                    }
                default:
                    break
                }
            default:
                return nil
            }
        }
        return nil
    }
}

/// Reads the protobuf wire format: varints and length-delimited values, never past the end.
private struct WireReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                return value
            }
            shift += 7
        }
        return nil
    }

    mutating func skip(_ count: Int) -> Bool {
        guard bytes.count - offset >= count else {
            return false
        }
        offset += count
        return true
    }

    mutating func lengthDelimited() -> UnsafeRawBufferPointer? {
        guard let length = self.varint(), length <= UInt64(bytes.count - offset) else {
            return nil
        }
        let value = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(length)])
        offset += Int(length)
        return value
    }
}
