import Foundation
import GnomonCore
import GnomonProtocol
import Synchronization
import Testing

@testable import GnomonNetwork

/// The methods the test dispatcher answers, each standing for one behaviour.
enum TestMethod {
    /// Answers with the request's payload.
    static let echo = MethodDescriptor.getServerStatus
    /// Answers with the caller's address as the server sees it, which names its connection.
    static let peer = MethodDescriptor.getTenant
    /// Waits until cancelled, or for ``TestDispatcher/slowHandlerLimit``, then echoes.
    static let slow = MethodDescriptor.submitJob
    /// Waits ``TestDispatcher/briefHandlerDuration``, ignoring cancellation, then echoes.
    static let brief = MethodDescriptor.getJob
    /// Fails with ``TestDispatcher/refusal``.
    static let failing = MethodDescriptor.cancelJob
    /// Streams as a ``StreamOrder`` in the payload says.
    static let stream = MethodDescriptor.leaseJobs
}

/// What the streaming test handler is asked to send, carried as its request payload.
struct StreamOrder: Equatable {
    /// How many messages; `UInt32.max` streams until the call ends.
    var count: UInt32
    /// How many bytes each message has, at least 4: its index, then filler.
    var size: UInt32
    /// The final status code; 0 for OK.
    var finalCode: UInt32 = 0

    static let unending = UInt32.max

    var payload: [UInt8] {
        [self.count, self.size, self.finalCode].flatMap { value in
            (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        }
    }

    init(count: UInt32, size: UInt32, finalCode: UInt32 = 0) {
        self.count = count
        self.size = max(size, 4)
        self.finalCode = finalCode
    }

    init?(payload: [UInt8]) {
        guard payload.count == 12 else {
            return nil
        }
        let words = (0..<3).map { word in
            (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(payload[word * 4 + $1]) }
        }
        self.init(count: words[0], size: words[1], finalCode: words[2])
    }

    /// The message at `index`: the index, big-endian, then filler up to the size.
    static func message(index: UInt32, size: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: index >> (24 - 8 * $0)) }
            + [UInt8](repeating: 0xA5, count: Int(size) - 4)
    }
}

/// What the test dispatcher's handlers did, readable from the test.
struct DispatcherRecord: Sendable {
    var slowStarted: Set<String> = []
    var slowCancelled: Set<String> = []
    var slowRunning = 0
    var slowMostRunning = 0
    var briefStarted = 0
    var briefFinished = 0
    var streamMessagesAccepted = 0
    var streamBytesAccepted = 0
    var streamsStopped = 0
    var peers: [String] = []
}

/// Runs the test methods and records what their handlers saw.
final class TestDispatcher: RPCDispatcher {
    static let slowHandlerLimit = Duration.seconds(30)
    static let briefHandlerDuration = Duration.milliseconds(400)
    static let refusal = CallStatus(code: .failedPrecondition, message: "the test handler refuses every call")

    let record = Recorder(DispatcherRecord())

    func unary(_ call: IncomingCall) async -> Result<[UInt8], CallStatus> {
        switch call.method {
        case TestMethod.echo:
            return .success(call.payload)

        case TestMethod.peer:
            self.record.update { $0.peers.append(call.peerAddress) }
            return .success(Array(call.peerAddress.utf8))

        case TestMethod.slow:
            return await self.runSlowly(call)

        case TestMethod.brief:
            // Not cancellable on purpose: the drain must let it finish.
            self.record.update { $0.briefStarted += 1 }
            let clock = ContinuousClock()
            let end = clock.now + Self.briefHandlerDuration
            while clock.now < end {
                try? await Task.sleep(for: .milliseconds(20))
            }
            self.record.update { $0.briefFinished += 1 }
            return .success(call.payload)

        case TestMethod.failing:
            return .failure(Self.refusal)

        default:
            return .failure(CallStatus(code: .unimplemented, message: "\(call.method) is not a test method"))
        }
    }

    func serverStreaming(_ call: IncomingCall, send: @escaping @Sendable ([UInt8]) async -> Bool) async -> CallStatus {
        guard call.method == TestMethod.stream, let order = StreamOrder(payload: call.payload) else {
            return CallStatus(code: .invalidArgument, message: "expected a StreamOrder")
        }
        var index: UInt32 = 0
        while order.count == StreamOrder.unending || index < order.count {
            guard await send(StreamOrder.message(index: index, size: order.size)) else {
                self.record.update { $0.streamsStopped += 1 }
                return CallStatus(code: .cancelled, message: "the call ended while streaming")
            }
            self.record.update {
                $0.streamMessagesAccepted += 1
                $0.streamBytesAccepted += Int(order.size)
            }
            index += 1
        }
        return CallStatus(code: StatusCode(rawValue: order.finalCode), message: order.finalCode == 0 ? "" : "asked")
    }

    private func runSlowly(_ call: IncomingCall) async -> Result<[UInt8], CallStatus> {
        let tag = String(decoding: call.payload, as: UTF8.self)
        self.record.update {
            $0.slowStarted.insert(tag)
            $0.slowRunning += 1
            $0.slowMostRunning = max($0.slowMostRunning, $0.slowRunning)
        }
        defer { self.record.update { $0.slowRunning -= 1 } }
        do {
            try await Task.sleep(for: Self.slowHandlerLimit)
        } catch {
            self.record.update { _ = $0.slowCancelled.insert(tag) }
            return .failure(CallStatus(code: .cancelled, message: "the handler saw its cancellation"))
        }
        return .success(call.payload)
    }
}

/// Keeps every record a logger writes.
final class LogLines: LogSink {
    let records = Recorder<[LogRecord]>([])

    var count: Int {
        self.records.current.count
    }

    func write(_ record: LogRecord) {
        self.records.update { $0.append(record) }
    }
}

/// An RPC server on a loopback port with development certificates, the test dispatcher and
/// clients made for it; ``shutdown()`` stops all of it.
final class RPCTestServer {
    let pki: TestPKI
    let group: EventLoopGroup
    let dispatcher = TestDispatcher()
    let logs = LogLines()
    let configuration: RPCServer.Configuration
    private let tls: TLSServerContext
    private(set) var server: RPCServer?
    private(set) var port: UInt16 = 0
    private var channels: [RPCChannel] = []

    /// Starts a server on 127.0.0.1 with a port the system chooses.
    static func start(
        limits: ProtocolLimits = ProtocolLimits(),
        handshakeTimeout: Duration = .seconds(10),
        connection: TCPConnection.Configuration = TCPConnection.Configuration()
    ) async throws -> RPCTestServer {
        let configuration = RPCServer.Configuration(
            host: "127.0.0.1", port: 0, limits: limits,
            listener: TCPListener.Configuration(connection: connection),
            handshakeTimeout: handshakeTimeout)
        let server = try RPCTestServer(configuration: configuration)
        do {
            try await server.listen(port: 0)
        } catch {
            await server.group.shutdown()
            throw error
        }
        return server
    }

    private init(configuration: RPCServer.Configuration) throws {
        self.pki = try TestPKI()
        self.configuration = configuration
        self.tls = try TLSServerContext(configuration: self.pki.serverConfiguration())
        self.group = try EventLoopGroup(threads: 2, name: "rpc-test")
    }

    /// The server's logger: info and above, as gnomond runs it.
    var logger: Logger {
        Logger(source: "rpc", level: .info, sink: self.logs)
    }

    /// Listens again, on `port`; the same port as before when it is 0 and one was chosen.
    func listen(port: UInt16? = nil) async throws {
        var configuration = self.configuration
        configuration.port = port ?? self.port
        let server = try await RPCServer.start(
            configuration: configuration, tls: self.tls, group: self.group, dispatcher: self.dispatcher,
            logger: self.logger)
        self.server = server
        self.port = server.port
    }

    /// Drains the server within `timeout`; the loops keep running for the clients.
    func stopServing(timeout: Duration = .seconds(2)) async {
        await self.server?.shutdown(timeout: timeout)
        self.server = nil
    }

    /// A channel to the server that trusts the development CA, closed by ``shutdown()``.
    func makeChannel(
        caFile: String? = nil,
        limits: ProtocolLimits = ProtocolLimits(),
        initialReconnectDelay: Duration = .milliseconds(50),
        maximumReconnectDelay: Duration = .milliseconds(400)
    ) throws -> RPCChannel {
        let tls = try TLSClientContext(configuration: TLSConfiguration(caFile: caFile ?? self.pki.files.caFile))
        let channel = RPCChannel(
            configuration: RPCChannel.Configuration(
                host: "127.0.0.1", port: self.port, limits: limits, connectTimeout: .seconds(5),
                initialReconnectDelay: initialReconnectDelay, maximumReconnectDelay: maximumReconnectDelay),
            tls: tls,
            group: self.group)
        self.channels.append(channel)
        return channel
    }

    /// A client trusting the development CA, for raw clients.
    func makeClientContext() throws -> TLSClientContext {
        try TLSClientContext(configuration: self.pki.clientConfiguration())
    }

    /// How many connections the server has open, after their handshake.
    var connectionCount: Int {
        self.server?.connectionCount ?? 0
    }

    /// Closes the channels, stops the server and its loops.
    func shutdown() async {
        for channel in self.channels {
            channel.close()
        }
        await self.stopServing(timeout: .milliseconds(500))
        await self.group.shutdown()
    }
}

/// Runs `body` with a fresh server, and shuts the server down whether `body` threw or not.
func withRPCTestServer(
    limits: ProtocolLimits = ProtocolLimits(),
    handshakeTimeout: Duration = .seconds(10),
    connection: TCPConnection.Configuration = TCPConnection.Configuration(),
    _ body: (RPCTestServer) async throws -> Void
) async throws {
    let server = try await RPCTestServer.start(
        limits: limits, handshakeTimeout: handshakeTimeout, connection: connection)
    do {
        try await body(server)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

extension RPCChannel {
    /// Makes a unary call that must succeed within five seconds, with a readable failure.
    func call(
        _ method: MethodDescriptor,
        _ payload: [UInt8] = [],
        within timeout: Duration = .seconds(5)
    ) async throws(CallStatus) -> [UInt8] {
        try await self.unary(method, payload: payload, deadline: .now + timeout)
    }

    /// The address of this channel's connection, as the server sees it.
    func peerAddress() async throws(CallStatus) -> String {
        String(decoding: try await self.call(TestMethod.peer), as: UTF8.self)
    }
}

/// Runs `body`, and returns the status it threw, or `nil` when it succeeded.
func status(of body: () async throws -> [UInt8]) async -> CallStatus? {
    do {
        _ = try await body()
        return nil
    } catch let status as CallStatus {
        return status
    } catch {
        return CallStatus(code: .unknown, message: "not a CallStatus: \(error)")
    }
}

/// The process's resident memory, in bytes, from `/proc/self/statm`.
func residentMemory() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else {
        return 0
    }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else {
        return 0
    }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
