import Testing

@testable import GnomonProtocol

@Suite("Status codes")
struct StatusCodeTests {
    static let grpcCodes: [(StatusCode, UInt32, String)] = [
        (.ok, 0, "OK"),
        (.cancelled, 1, "CANCELLED"),
        (.unknown, 2, "UNKNOWN"),
        (.invalidArgument, 3, "INVALID_ARGUMENT"),
        (.deadlineExceeded, 4, "DEADLINE_EXCEEDED"),
        (.notFound, 5, "NOT_FOUND"),
        (.alreadyExists, 6, "ALREADY_EXISTS"),
        (.permissionDenied, 7, "PERMISSION_DENIED"),
        (.resourceExhausted, 8, "RESOURCE_EXHAUSTED"),
        (.failedPrecondition, 9, "FAILED_PRECONDITION"),
        (.aborted, 10, "ABORTED"),
        (.outOfRange, 11, "OUT_OF_RANGE"),
        (.unimplemented, 12, "UNIMPLEMENTED"),
        (.internal, 13, "INTERNAL"),
        (.unavailable, 14, "UNAVAILABLE"),
        (.dataLoss, 15, "DATA_LOSS"),
        (.unauthenticated, 16, "UNAUTHENTICATED"),
    ]

    @Test("every code has gRPC's number and name", arguments: Self.grpcCodes)
    func numberAndName(code: StatusCode, number: UInt32, name: String) {
        #expect(code.rawValue == number)
        #expect(code.name == name)
        #expect(code.isKnown)
        #expect(StatusCode(rawValue: number) == code)
        #expect(StatusCode(name: name) == code)
        #expect(code.description == "\(name) (\(number))")
    }

    @Test("the known codes are exactly gRPC's 17, in number order")
    func allKnown() {
        #expect(StatusCode.allKnown == Self.grpcCodes.map(\.0))
    }

    @Test("a number this build does not know is kept, and named by its number")
    func unknownNumber() {
        let code = StatusCode(rawValue: 42)
        #expect(code.rawValue == 42)
        #expect(!code.isKnown)
        #expect(code.name == "CODE_42")
        #expect(code != .unknown)
        #expect(StatusCode(name: "CODE_42") == nil)
        #expect(StatusCode(name: "invalid_argument") == nil)
    }

    @Test("a call status converts to its wire form and back without loss")
    func callStatusRoundTrip() throws {
        let detail = V1.StatusDetail(
            detail: .quotaFailure(V1.QuotaFailure(quota: "submit_rate", limit: 10, current: 11)))
        let status = CallStatus(code: .resourceExhausted, message: "slow down", details: [detail])
        let wire = V1.Status(status)
        #expect(wire.code == 8)
        #expect(wire.message == "slow down")
        #expect(wire.details == [detail])
        #expect(CallStatus(wire) == status)
        #expect(CallStatus(try V1.Status(serializedBytes: wire.serializedBytes())) == status)
    }

    @Test("an absent status means OK; an unknown wire code survives")
    func absentAndUnknown() {
        let absent = CallStatus(V1.Status?.none)
        #expect(absent == .ok)
        #expect(absent.isOK)
        #expect(CallStatus(V1.Status(code: 99, message: "new")).code == StatusCode(rawValue: 99))
        #expect(!CallStatus(code: .notFound).isOK)
    }

    @Test("a status describes itself by name and message")
    func callStatusDescription() {
        #expect(CallStatus.ok.description == "OK")
        #expect(CallStatus(code: .notFound, message: "no job j1").description == "NOT_FOUND: no job j1")
    }
}
