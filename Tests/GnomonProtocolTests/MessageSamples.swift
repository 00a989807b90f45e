import Testing

@testable import GnomonProtocol

/// A message type whose generated samples set every field.
protocol SampledMessage: CMessageConvertible {
    static func testSample(_ variant: Int) -> Self
}

/// The samples of one message type, and the checks every sample must pass.
struct MessageSamples: Sendable, CustomTestStringConvertible {
    let name: String
    let samples: [any ProtoMessage]
    private let checkAll: @Sendable () throws -> Void

    init<Message: SampledMessage>(_ type: Message.Type, variants: Int) {
        let samples = [Message()] + (0..<variants).map { Message.testSample($0) }
        self.name = Message.protoName
        self.samples = samples
        self.checkAll = {
            for (index, sample) in samples.enumerated() {
                try Self.check(sample, index: index)
            }
        }
    }

    var testDescription: String { self.name }

    /// Runs every round trip on every sample, recording a failed expectation for each mismatch.
    func check() throws {
        try self.checkAll()
    }

    private static func check<Message: SampledMessage>(_ sample: Message, index: Int) throws {
        let label = "\(Message.protoName) sample \(index)"

        let arena = CArena()
        let c = try arena.message(sample)
        let throughC = try Message(cMessage: c)
        #expect(throughC == sample, "\(label) changed going through its C struct")

        let bytes = try sample.serializedBytes()
        let decoded = try Message(serializedBytes: bytes)
        #expect(decoded == sample, "\(label) changed going through its encoding")
        #expect(try decoded.serializedBytes() == bytes, "\(label) encodes differently after a round trip")

        if index == 0 {
            #expect(bytes.isEmpty, "\(label): an empty message must encode to no bytes")
        } else {
            #expect(!bytes.isEmpty, "\(label): a full sample must not encode to no bytes")
        }
    }
}
