/// The outcome code of a call, with gRPC's names and numbers.
///
/// Numbers this build does not know are kept as they are, so a status from a newer peer
/// survives being passed on.
public struct StatusCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The number on the wire.
    public let rawValue: UInt32

    /// Creates the code for a wire number, known or not.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// Finds a known code by its gRPC name, such as `INVALID_ARGUMENT`.
    ///
    /// - Parameter name: The upper-case name.
    /// - Returns: The code, or `nil` when no known code has that name.
    public init?(name: String) {
        guard let index = Self.names.firstIndex(of: name) else {
            return nil
        }
        self.init(rawValue: UInt32(index))
    }

    /// Not an error; returned on success.
    public static let ok = StatusCode(rawValue: 0)
    /// The call was cancelled, typically by the caller.
    public static let cancelled = StatusCode(rawValue: 1)
    /// An error that fits no other code.
    public static let unknown = StatusCode(rawValue: 2)
    /// The request is wrong whatever the state of the system.
    public static let invalidArgument = StatusCode(rawValue: 3)
    /// The deadline passed before the call completed.
    public static let deadlineExceeded = StatusCode(rawValue: 4)
    /// Something the call names does not exist.
    public static let notFound = StatusCode(rawValue: 5)
    /// Something the call would create already exists.
    public static let alreadyExists = StatusCode(rawValue: 6)
    /// The caller is known but not allowed to do this.
    public static let permissionDenied = StatusCode(rawValue: 7)
    /// A quota or limit was reached, such as the number of concurrent streams.
    public static let resourceExhausted = StatusCode(rawValue: 8)
    /// The system is not in the state the call needs.
    public static let failedPrecondition = StatusCode(rawValue: 9)
    /// The call was aborted, typically by a concurrency conflict.
    public static let aborted = StatusCode(rawValue: 10)
    /// A value is past the valid range.
    public static let outOfRange = StatusCode(rawValue: 11)
    /// The method is not implemented or not supported.
    public static let unimplemented = StatusCode(rawValue: 12)
    /// An invariant of the server was broken.
    public static let `internal` = StatusCode(rawValue: 13)
    /// The service cannot be reached now; the call may be retried.
    public static let unavailable = StatusCode(rawValue: 14)
    /// Data was lost or corrupted beyond recovery.
    public static let dataLoss = StatusCode(rawValue: 15)
    /// The caller did not give valid credentials.
    public static let unauthenticated = StatusCode(rawValue: 16)

    /// Every code this build knows, in number order.
    public static let allKnown: [StatusCode] = Self.names.indices.map { StatusCode(rawValue: UInt32($0)) }

    private static let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    /// Whether this build knows the code.
    public var isKnown: Bool {
        self.rawValue < Self.names.count
    }

    /// The gRPC name, such as `INVALID_ARGUMENT`; `CODE_<number>` for a code this build does not know.
    public var name: String {
        self.isKnown ? Self.names[Int(self.rawValue)] : "CODE_\(self.rawValue)"
    }

    public var description: String {
        "\(self.name) (\(self.rawValue))"
    }
}

/// The outcome of a call: a code, a message for people and details for programs.
///
/// A status that is not OK is also the error a failed call throws.
public struct CallStatus: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of outcome this is.
    public var code: StatusCode
    /// What was wrong and what would be right.
    public var message: String
    /// Structured reasons, such as the quota that refused the call.
    public var details: [V1.StatusDetail]

    /// Creates a status.
    public init(code: StatusCode, message: String = "", details: [V1.StatusDetail] = []) {
        self.code = code
        self.message = message
        self.details = details
    }

    /// Creates a status from its wire form.
    public init(_ status: V1.Status) {
        self.init(code: StatusCode(rawValue: status.code), message: status.message, details: status.details)
    }

    /// Creates the status a frame carries: OK when the frame has none.
    public init(_ status: V1.Status?) {
        self = status.map { CallStatus($0) } ?? .ok
    }

    /// Success, with no message.
    public static let ok = CallStatus(code: .ok)

    /// Whether the call succeeded.
    public var isOK: Bool {
        self.code == .ok
    }

    public var description: String {
        self.message.isEmpty ? self.code.name : "\(self.code.name): \(self.message)"
    }
}

extension V1.Status {
    /// Creates the wire form of a call status.
    public init(_ status: CallStatus) {
        self.init(code: status.code.rawValue, message: status.message, details: status.details)
    }
}
