/// The namespace of the version 1 protocol's messages, enumerations and methods.
public enum V1 {}

/// A message of the Gnomon protocol as a Swift value type.
///
/// Every message converts losslessly to and from its protobuf encoding. The C structs used to
/// encode and decode stay inside this module.
public protocol ProtoMessage: Sendable, Hashable {
    /// The message's full protobuf name, such as `gnomon.v1.Job`.
    static var protoName: String { get }

    /// Creates the message with every field at its default.
    init()

    /// Decodes a message from its protobuf encoding.
    ///
    /// - Parameter bytes: The encoded message, without any frame length prefix.
    /// - Throws: ``ProtocolError`` with code `malformedMessage` when the bytes are not a valid
    ///   encoding of this message, or a string field is not valid UTF-8.
    init(serializedBytes bytes: some Collection<UInt8>) throws(ProtocolError)

    /// Encodes the message; map entries are written in key order, so equal messages encode alike.
    ///
    /// - Throws: ``ProtocolError`` with code `invalidMessage` when a string field contains a NUL
    ///   character, which the protocol does not carry.
    func serializedBytes() throws(ProtocolError) -> [UInt8]
}

/// Facts about the protocol schema this build was generated from.
public enum ProtoSchema {}
