public import GnomonCore
import GnomonNetwork
public import GnomonProtocol

/// The Gnomon SDK's client: calls a Gnomon server over its TLS protocol.
///
/// One client shares one connection across tasks; it is safe to use from many tasks at once.
public final class GnomonClient: Sendable {
    /// Where the server is and how to trust it.
    public struct Configuration: Sendable {
        /// The server's address.
        public var address: HostAndPort
        /// Certificate authorities to verify the server with; the system's when `nil`.
        public var caFile: String?
        /// The bearer token sent with every call.
        public var token: String?

        /// Creates a configuration.
        public init(address: HostAndPort, caFile: String? = nil, token: String? = nil) {
            self.address = address
            self.caFile = caFile
            self.token = token
        }
    }

    /// The version of this SDK, the same as the server it was built with.
    public static var version: String { GnomonVersion.current }

    private let configuration: Configuration
    private let group: EventLoopGroup
    private let channel: RPCChannel

    /// Creates a client; it connects on the first call.
    ///
    /// - Throws: ``GnomonError`` when the CA file cannot be loaded.
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        let tls: TLSClientContext
        do {
            tls = try TLSClientContext(configuration: TLSConfiguration(caFile: configuration.caFile))
        } catch {
            throw GnomonError(code: .invalidArgument, message: "cannot set up TLS: \(error)")
        }
        self.group = try EventLoopGroup(threads: 1)
        self.channel = RPCChannel(
            configuration: RPCChannel.Configuration(host: configuration.address.host, port: configuration.address.port),
            tls: tls,
            group: self.group
        )
    }

    /// The server's version, node, uptime and database state.
    ///
    /// - Parameter timeout: How long to wait for the answer.
    public func serverStatus(timeout: Duration = .seconds(10)) async throws(GnomonError) -> V1.GetServerStatusResponse {
        try await self.call(.getServerStatus, V1.GetServerStatusRequest(), timeout: timeout)
    }

    /// Closes the connection and stops the client's I/O thread.
    public func shutdown() async {
        self.channel.close()
        await self.group.shutdown()
    }

    private func call<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor,
        _ request: Request,
        timeout: Duration
    ) async throws(GnomonError) -> Response {
        var metadata = V1.CallMetadata()
        if let token = self.configuration.token {
            metadata.authorization = "Bearer \(token)"
        }
        do {
            let payload = try request.serializedBytes()
            let response = try await self.channel.unary(
                method, payload: payload, metadata: metadata, deadline: .now + timeout)
            return try Response(serializedBytes: response)
        } catch let status as CallStatus {
            throw GnomonError(status)
        } catch {
            throw GnomonError(code: .internal, message: "\(error)")
        }
    }
}
