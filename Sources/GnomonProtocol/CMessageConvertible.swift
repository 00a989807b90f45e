import CProtobufC
import Foundation

/// A message type that converts to and from its protobuf-c struct.
///
/// Conversions stay internal: nothing outside this module sees a C struct.
protocol CMessageConvertible: ProtoMessage {
    associatedtype CMessage

    /// Reads a C struct that protobuf-c unpacked or that ``fillCMessage(_:arena:)`` wrote.
    init(cMessage pointer: UnsafePointer<CMessage>) throws

    /// Writes this message into `c`; everything it points to is allocated in `arena`.
    func fillCMessage(_ c: UnsafeMutablePointer<CMessage>, arena: CArena) throws

    static func packedSize(_ c: UnsafePointer<CMessage>) -> Int
    static func pack(_ c: UnsafePointer<CMessage>, into buffer: UnsafeMutablePointer<UInt8>) -> Int
    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<CMessage>?
    static func freeUnpacked(_ c: UnsafeMutablePointer<CMessage>)
}

/// Encodes and decodes messages through protobuf-c.
enum CMessageCodec {
    static func encode<Message: CMessageConvertible>(_ message: Message) throws(ProtocolError) -> [UInt8] {
        let arena = CArena()
        let c: UnsafeMutablePointer<Message.CMessage>
        do {
            c = try arena.message(message)
        } catch {
            throw Self.protocolError(error, code: .invalidMessage, message: Message.self)
        }
        let size = Message.packedSize(c)
        return [UInt8](unsafeUninitializedCapacity: max(size, 1)) { buffer, count in
            count = Message.pack(c, into: buffer.baseAddress!)
        }
    }

    static func decode<Message: CMessageConvertible>(
        _ type: Message.Type,
        from bytes: some Collection<UInt8>
    ) throws(ProtocolError) -> Message {
        let result: Result<Message, ProtocolError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Self.decode(type, buffer: buffer)
        }
        if let result {
            return try result.get()
        }
        return try Array(bytes).withUnsafeBufferPointer { Self.decode(type, buffer: $0) }.get()
    }

    private static func decode<Message: CMessageConvertible>(
        _ type: Message.Type,
        buffer: UnsafeBufferPointer<UInt8>
    ) -> Result<Message, ProtocolError> {
        // protobuf-c needs a valid pointer even for an empty message.
        let unpacked: UnsafeMutablePointer<Message.CMessage>?
        if buffer.isEmpty {
            var empty: UInt8 = 0
            unpacked = withUnsafePointer(to: &empty) { Message.unpack(UnsafeBufferPointer(start: $0, count: 0)) }
        } else {
            unpacked = Message.unpack(buffer)
        }
        guard let unpacked else {
            return .failure(
                ProtocolError(
                    code: .malformedMessage,
                    message: "\(buffer.count) bytes are not a valid encoding of \(Message.protoName)"
                )
            )
        }
        defer { Message.freeUnpacked(unpacked) }
        let descriptor = UnsafeRawPointer(unpacked).assumingMemoryBound(to: ProtobufCMessage.self).pointee.descriptor
        if let descriptor, let field = WireStringCheck.fieldHoldingNUL(in: buffer, descriptor: descriptor) {
            return .failure(
                ProtocolError(
                    code: .malformedMessage,
                    message: "field \(field) of \(Message.protoName) holds a NUL byte, which strings must not contain"
                )
            )
        }
        do {
            return .success(try Message(cMessage: unpacked))
        } catch {
            return .failure(Self.protocolError(error, code: .malformedMessage, message: Message.self))
        }
    }

    /// Conversions throw only ``ProtocolError``; anything else is wrapped so the public API stays typed.
    private static func protocolError(
        _ error: any Error,
        code: ProtocolError.Code,
        message: any ProtoMessage.Type
    ) -> ProtocolError {
        if let error = error as? ProtocolError {
            return error
        }
        return ProtocolError(code: code, message: "\(message.protoName): \(error)")
    }
}

/// Owns the C memory of messages being encoded; everything is freed with the arena.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in self.blocks {
            free(block)
        }
    }

    /// Allocates zeroed memory for `count` values of `type`.
    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = calloc(max(count, 1), MemoryLayout<T>.stride)!
        self.blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// Copies a string as a NUL-terminated C string.
    func string(_ value: String, field: String) throws -> UnsafeMutablePointer<CChar> {
        var utf8 = Array(value.utf8)
        if utf8.contains(0) {
            throw ProtocolError(
                code: .invalidMessage,
                message: "field \(field) contains a NUL character; strings must not contain U+0000"
            )
        }
        utf8.append(0)
        let pointer = self.allocate(CChar.self, count: utf8.count)
        utf8.withUnsafeBytes { UnsafeMutableRawPointer(pointer).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return pointer
    }

    /// Copies bytes into a protobuf-c binary value.
    func bytes(_ value: [UInt8]) -> ProtobufCBinaryData {
        let pointer = self.allocate(UInt8.self, count: value.count)
        pointer.update(from: value, count: value.count)
        return ProtobufCBinaryData(len: value.count, data: pointer)
    }

    /// Copies an array of plain C values, returning its count and storage.
    func array<T>(_ values: [T]) -> (Int, UnsafeMutablePointer<T>?) {
        guard !values.isEmpty else {
            return (0, nil)
        }
        let pointer = self.allocate(T.self, count: values.count)
        pointer.initialize(from: values, count: values.count)
        return (values.count, pointer)
    }

    /// Copies an array of strings as C strings.
    func strings(
        _ values: [String],
        field: String
    ) throws -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        var pointers: [UnsafeMutablePointer<CChar>?] = []
        pointers.reserveCapacity(values.count)
        for value in values {
            pointers.append(try self.string(value, field: field))
        }
        return self.array(pointers)
    }

    /// Writes a message into a new C struct.
    func message<Message: CMessageConvertible>(
        _ message: Message
    ) throws -> UnsafeMutablePointer<Message.CMessage> {
        let pointer = self.allocate(Message.CMessage.self, count: 1)
        try message.fillCMessage(pointer, arena: self)
        return pointer
    }

    /// Writes messages into new C structs, returning the count and the array of pointers.
    func messages<Message: CMessageConvertible>(
        _ messages: [Message]
    ) throws -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Message.CMessage>?>?) {
        var pointers: [UnsafeMutablePointer<Message.CMessage>?] = []
        pointers.reserveCapacity(messages.count)
        for message in messages {
            pointers.append(try self.message(message))
        }
        return self.array(pointers)
    }

    /// Writes a map as protobuf-c entry structs, in key order so that encoding is deterministic.
    func map<Key: Comparable, Value, Entry>(
        _ map: [Key: Value],
        initEntry: (UnsafeMutablePointer<Entry>?) -> Void,
        fill: (UnsafeMutablePointer<Entry>, Key, Value) throws -> Void
    ) throws -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>?) {
        var pointers: [UnsafeMutablePointer<Entry>?] = []
        pointers.reserveCapacity(map.count)
        for (key, value) in map.sorted(by: { $0.key < $1.key }) {
            let entry = self.allocate(Entry.self, count: 1)
            initEntry(entry)
            try fill(entry, key, value)
            pointers.append(entry)
        }
        return self.array(pointers)
    }
}

/// Reads a C string, refusing bytes that are not UTF-8.
///
/// protobuf-c keeps no length with an unpacked string; decoding refused strings holding a NUL
/// byte before this runs (``WireStringCheck``), so none is cut short here.
func cString(_ pointer: UnsafePointer<CChar>?, field: String) throws -> String {
    guard let pointer else {
        return ""
    }
    guard let string = String(validatingCString: pointer) else {
        throw ProtocolError(code: .malformedMessage, message: "field \(field) is not valid UTF-8")
    }
    return string
}

/// Copies a protobuf-c binary value.
func cBytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard data.len > 0, let bytes = data.data else {
        return []
    }
    return Array(UnsafeBufferPointer(start: bytes, count: data.len))
}

/// Copies a C array of plain values.
func cArray<T>(_ pointer: UnsafePointer<T>?, count: Int) -> [T] {
    guard count > 0, let pointer else {
        return []
    }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

/// The non-null element pointers of a C array of pointers.
func cElements<T>(_ pointer: UnsafePointer<UnsafeMutablePointer<T>?>?, count: Int) -> [UnsafeMutablePointer<T>] {
    cArray(pointer, count: count).compactMap { $0 }
}
