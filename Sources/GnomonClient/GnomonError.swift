public import GnomonProtocol

/// An error from a call to Gnomon: the server's status, or the client's own.
public struct GnomonError: Error, Sendable, CustomStringConvertible {
    /// The status code, with gRPC's names and numbers; new codes may appear.
    public var code: StatusCode
    /// What was wrong and what would be right.
    public var message: String
    /// Structured details, such as which quota was exceeded and when to retry.
    public var details: [V1.StatusDetail]

    /// Creates an error.
    public init(code: StatusCode, message: String, details: [V1.StatusDetail] = []) {
        self.code = code
        self.message = message
        self.details = details
    }

    /// The error a call's status stands for.
    public init(_ status: CallStatus) {
        self.init(code: status.code, message: status.message, details: status.details)
    }

    public var description: String {
        "\(self.code.name): \(self.message)"
    }
}
