import GnomonProtocol

/// The check run on every message an input decodes to.
///
/// Whatever bytes are given, decoding either fails with ``ProtocolError`` or gives a message
/// that encodes, decodes back to an equal message, and encodes to the same bytes again, since
/// equal messages encode alike. Encoding may refuse a message only with `invalidMessage`.
enum MessageRoundTrip {
    /// Every message type of the protocol, in the order scripts/fuzz generated them.
    static let messageTypes: [any ProtoMessage.Type] = {
        let types = generatedMessageTypes
        let listed = Set(types.map { ObjectIdentifier($0) })
        for method in MethodDescriptor.all {
            for type in [method.requestType, method.responseType] {
                require(listed.contains(ObjectIdentifier(type)), "\(type.protoName) of \(method) is not fuzzed")
            }
        }
        return types
    }()

    /// Decodes the bytes as a `Message` and, when that works, checks the round trip.
    ///
    /// - Parameters:
    ///   - type: The message type to decode.
    ///   - bytes: The bytes of the input after the type's byte.
    static func check<Message: ProtoMessage>(_ type: Message.Type, decoding bytes: UnsafeBufferPointer<UInt8>) {
        guard let decoded = try? Message(serializedBytes: bytes) else {
            return
        }
        let encoded: [UInt8]
        do {
            encoded = try decoded.serializedBytes()
        } catch {
            require(error.code == .invalidMessage, "\(Message.protoName) refused to encode with \(error): \(decoded)")
            return
        }

        let again: Message
        do {
            again = try Message(serializedBytes: encoded)
        } catch {
            fatalError("\(Message.protoName) does not decode its own encoding \(encoded) (\(error)): \(decoded)")
        }
        // A double holding NaN makes a message unequal to itself, and then only the encodings
        // can agree. Comparing `decoded` with itself would not show it: arrays that share storage
        // are equal without comparing their elements; a second decoding shares nothing.
        if (try? Message(serializedBytes: bytes)) == decoded {
            require(again == decoded, "\(Message.protoName) changed in a round trip: \(decoded) became \(again)")
            require(again.hashValue == decoded.hashValue, "equal \(Message.protoName) messages hash differently")
        }
        let reencoded = try? again.serializedBytes()
        require(reencoded == encoded, "\(Message.protoName) encodes differently after a round trip: \(decoded)")
    }
}
