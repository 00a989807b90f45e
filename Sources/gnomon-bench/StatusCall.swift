import GnomonNetwork
import GnomonProtocol

/// The call every RPC figure makes: `GetServerStatus`, as the SDK makes it.
///
/// Like the SDK, it gives each call a deadline and decodes the response, so the figures
/// include what a caller of the SDK would pay besides the transport.
struct StatusCall: Sendable {
    /// How long a call may take before it fails; the SDK's default.
    static let timeout: Duration = .seconds(10)

    /// The serialized request, made once.
    let payload: [UInt8]

    /// Serializes the request.
    ///
    /// - Throws: ``ProtocolError`` when the request cannot be encoded.
    init() throws {
        self.payload = try V1.GetServerStatusRequest().serializedBytes()
    }

    /// Makes one call on `channel` and decodes its response.
    ///
    /// - Returns: The size of the serialized response.
    /// - Throws: ``CallStatus`` from the channel, or ``ProtocolError`` for a response that
    ///   does not decode.
    @discardableResult
    func run(on channel: RPCChannel) async throws -> Int {
        let response = try await channel.unary(.getServerStatus, payload: self.payload, deadline: .now + Self.timeout)
        let status = try V1.GetServerStatusResponse(serializedBytes: response)
        guard !status.version.isEmpty else {
            throw BenchError("the server's GetServerStatus answer has no version")
        }
        return response.count
    }
}
