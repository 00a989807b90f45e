import Foundation
import Testing

@testable import GnomonProtocol

@Suite("Message round trips")
struct MessageRoundTripTests {
    @Test("every message round-trips through its C struct and its encoding", arguments: allMessageSamples)
    func roundTrip(_ samples: MessageSamples) throws {
        try samples.check()
    }

    @Test("the samples cover every message declared in proto/")
    func samplesCoverEveryMessage() throws {
        let declared = try ProtoFiles.declaredMessageNames()
        let sampled = Set(allMessageSamples.map(\.name))
        #expect(declared.count > 50)
        #expect(sampled == declared)
    }

    @Test("samples set fields: a full sample differs from the empty message")
    func samplesAreNotEmpty() throws {
        for samples in allMessageSamples {
            let encoded = try samples.samples.map { try $0.serializedBytes() }
            #expect(encoded.dropFirst().allSatisfy { !$0.isEmpty }, "\(samples.name)")
        }
    }

    @Test("an enumeration value this build does not know survives a round trip")
    func unknownEnumValue() throws {
        let job = V1.Job(id: "j", state: .unrecognized(77))
        let decoded = try V1.Job(serializedBytes: job.serializedBytes())
        #expect(decoded.state == .unrecognized(77))
        #expect(decoded.state.rawValue == 77)
        #expect(V1.JobState(rawValue: 2) == .running)
    }

    @Test("a frame encodes to the bytes the protobuf specification gives")
    func knownAnswerEncoding() throws {
        let frame = V1.Frame(streamID: 1, kind: .request, method: "x", payload: [0xAA])
        // field 1 varint 1, field 2 varint 1, field 3 "x", field 5 one byte 0xAA
        #expect(try frame.serializedBytes() == [0x08, 0x01, 0x10, 0x01, 0x1A, 0x01, 0x78, 0x2A, 0x01, 0xAA])
    }

    @Test("maps encode in key order, so equal messages encode to equal bytes")
    func deterministicMaps() throws {
        var labels: [String: String] = [:]
        for index in 0..<50 {
            labels["key\(index)"] = "value\(index)"
        }
        let first = V1.JobSpec(queue: "q", labels: labels)
        let second = V1.JobSpec(queue: "q", labels: Dictionary(uniqueKeysWithValues: labels.reversed()))
        #expect(try first.serializedBytes() == second.serializedBytes())
    }
}

@Suite("Malformed and invalid messages")
struct MalformedMessageTests {
    @Test(
        "bytes that are not protobuf are refused with malformedMessage",
        arguments: [
            [0xFF, 0xFF, 0xFF],
            [0x0A, 0x05, 0x61],
            [0x08],
            [0x0B],
        ] as [[UInt8]])
    func garbage(_ bytes: [UInt8]) {
        #expect {
            try V1.Frame(serializedBytes: bytes)
        } throws: { error in
            (error as? ProtocolError)?.code == .malformedMessage
        }
    }

    @Test("a string field that is not UTF-8 is refused, naming the field")
    func invalidUTF8() throws {
        // Frame.method (field 3) holding the lone byte 0xC3.
        let bytes: [UInt8] = [0x1A, 0x01, 0xC3]
        let error = #expect(throws: ProtocolError.self) {
            try V1.Frame(serializedBytes: bytes)
        }
        #expect(error?.code == .malformedMessage)
        #expect(error?.message.contains("gnomon.v1.Frame.method") == true)
    }

    @Test("a string containing NUL cannot be encoded, and the error names the field")
    func nulInString() throws {
        let spec = V1.JobSpec(queue: "a\u{0}b")
        let error = #expect(throws: ProtocolError.self) {
            try spec.serializedBytes()
        }
        #expect(error?.code == .invalidMessage)
        #expect(error?.message.contains("gnomon.v1.JobSpec.queue") == true)
    }

    /// Encodes `message`, then swaps the bytes `QNQ` of one string for `Q`, NUL, `Q`: a string
    /// holding NUL, which the encoder would refuse to write.
    private static func withNUL(_ message: some ProtoMessage) throws -> [UInt8] {
        var bytes = try message.serializedBytes()
        let marker = Array("QNQ".utf8)
        let start = try #require((0...(bytes.count - marker.count)).first { Array(bytes[$0..<$0 + 3]) == marker })
        bytes[start + 1] = 0
        return bytes
    }

    @Test(
        "a string holding NUL on the wire is refused on decode, naming its field, at any depth",
        arguments: ["queue", "job.job_type", "labels.key", "labels.value"]
    )
    func nulOnTheWire(field: String) throws {
        let error: ProtocolError?
        switch field {
        case "job.job_type":
            let bytes = try Self.withNUL(V1.SubmitJobRequest(job: V1.JobSpec(jobType: "QNQ")))
            error = #expect(throws: ProtocolError.self) { try V1.SubmitJobRequest(serializedBytes: bytes) }
        case "labels.key":
            let bytes = try Self.withNUL(V1.JobSpec(labels: ["QNQ": "x"]))
            error = #expect(throws: ProtocolError.self) { try V1.JobSpec(serializedBytes: bytes) }
        case "labels.value":
            let bytes = try Self.withNUL(V1.JobSpec(labels: ["team": "aQNQ"]))
            error = #expect(throws: ProtocolError.self) { try V1.JobSpec(serializedBytes: bytes) }
        default:
            let bytes = try Self.withNUL(V1.JobSpec(queue: "emailsQNQ"))
            error = #expect(throws: ProtocolError.self) { try V1.JobSpec(serializedBytes: bytes) }
        }
        #expect(error?.code == .malformedMessage)
        #expect(error?.message.contains("field \(field) ") == true, "\(error?.message ?? "")")
    }

    @Test("NUL inside a bytes field is kept, and a string without NUL decodes as sent")
    func nulInBytesIsData() throws {
        let spec = V1.JobSpec(queue: "q", payloadJSON: [0x22, 0, 0x22], labels: ["a": "b"])
        #expect(try V1.JobSpec(serializedBytes: spec.serializedBytes()) == spec)
    }
}
