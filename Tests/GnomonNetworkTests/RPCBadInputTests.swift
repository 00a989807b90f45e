import GnomonCore
import GnomonProtocol
import Testing

@testable import GnomonNetwork

extension SocketTests {
    /// Every case keeps the same rule: the server answers or closes the offending connection
    /// alone, logs at most one line for it, and goes on serving a client connected before.
    @Suite("RPC server under bad input", .timeLimit(.minutes(1)))
    struct RPCBadInputTests {
        /// Short timeouts, so that the cases which wait for them end within seconds, yet long
        /// enough for a debug build on a busy machine.
        static let limits = ProtocolLimits(
            maximumFrameLength: 1024 * 1024,
            firstFrameTimeout: .seconds(2),
            idleTimeout: .seconds(20)
        )
        /// The limits with a keepalive that gives up on a silent client within seconds.
        static let keepaliveLimits: ProtocolLimits = {
            var limits = Self.limits
            limits.keepaliveInterval = .seconds(1)
            limits.keepaliveTimeout = .seconds(2)
            return limits
        }()
        static let handshakeTimeout = Duration.seconds(2)
        static let connection = TCPConnection.Configuration(closeTimeout: .seconds(1))

        /// Runs one bad-input case between two calls of a bystander connected before it.
        private func withBystander(
            limits: ProtocolLimits = Self.limits,
            loggingAtMost maximumLines: Int = 1,
            _ body: (RPCTestServer) async throws -> Void
        ) async throws {
            try await withRPCTestServer(
                limits: limits, handshakeTimeout: Self.handshakeTimeout, connection: Self.connection
            ) { server in
                let bystander = try server.makeChannel()
                let address = try await bystander.peerAddress()
                let linesBefore = server.logs.count

                try await body(server)

                #expect(try await bystander.peerAddress() == address, "the bystander kept its connection")
                let lines = server.logs.records.current.dropFirst(linesBefore).map(\.message)
                #expect(lines.count <= maximumLines, "\(lines)")
                #expect(try await server.makeChannel().call(TestMethod.echo, [42]) == [42])
            }
        }

        // MARK: - Frame lengths

        @Test("a frame of length 0 gets GOAWAY(PROTOCOL_ERROR) and a close")
        func emptyFrame() async throws {
            try await self.withBystander { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                try await raw.send(plaintext: [0, 0, 0, 0])
                #expect(await raw.goAway()?.reason == .protocolError)
                #expect(await raw.closed())
            }
        }

        @Test("a frame of exactly the maximum length is served")
        func maximumFrame() async throws {
            // Idle connections time out after 20 s in these tests; a loaded machine running a
            // debug build can take that long over a whole maximum-size frame, so allow more.
            var limits = Self.limits
            limits.idleTimeout = .seconds(120)
            try await self.withBystander(limits: limits) { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                // A ping answered first, so the short first-frame timeout of these tests is met
                // however long a loaded machine takes to encode and encrypt a whole megabyte.
                try await raw.send([V1.Frame.makePing(data: 1)])
                let pong = await raw.frame { $0.kind == .ping && $0.ping?.ack == true }
                #expect(pong != nil)
                try await raw.send([try Self.request(encodedLength: Self.limits.maximumFrameLength)])
                let answer = await raw.frame(within: .seconds(30)) { $0.streamID == 1 }
                #expect(answer?.callStatus == .ok)
                #expect(answer.map { String(decoding: $0.payload, as: UTF8.self) }?.hasPrefix("127.0.0.1") == true)
                #expect(!raw.isClosed.current)
            }
        }

        @Test("a length one byte over the maximum gets GOAWAY(FRAME_TOO_LARGE) before any body")
        func frameOverMaximum() async throws {
            try await self.withBystander { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                try await raw.send(plaintext: Self.lengthPrefix(Self.limits.maximumFrameLength + 1))
                let goAway = await raw.goAway()
                #expect(goAway?.reason == .frameTooLarge)
                #expect(goAway?.message.contains("\(Self.limits.maximumFrameLength + 1)") == true)
                #expect(await raw.closed())
            }
        }

        @Test("a length of 0xFFFFFFFF gets GOAWAY(FRAME_TOO_LARGE) and allocates nothing for it")
        func frameOfFourGibibytes() async throws {
            try await self.withBystander { server in
                let before = residentMemory()
                let raw = try await RawRPCClient.connectSecurely(to: server)
                try await raw.send(plaintext: [0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0x41, count: 64 * 1024))
                #expect(await raw.goAway()?.reason == .frameTooLarge)
                #expect(await raw.closed())
                #expect(residentMemory() - before < 50 * 1024 * 1024)
            }
        }

        // MARK: - Bytes that stop coming

        @Test("a declared body that never arrives is closed by the first-frame timeout")
        func bodyNeverArrives() async throws {
            try await self.withBystander { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                let clock = ContinuousClock()
                let start = clock.now
                try await raw.send(plaintext: Self.lengthPrefix(100) + [UInt8](repeating: 1, count: 10))
                #expect(await raw.closed(within: .seconds(6)))
                #expect(clock.now - start >= .seconds(1))
            }
        }

        @Test("the first-frame timeout counts from the end of the handshake, not from the accept")
        func firstFrameTimeoutStartsAfterHandshake() async throws {
            var limits = Self.limits
            limits.firstFrameTimeout = .seconds(3)
            try await withRPCTestServer(limits: limits, handshakeTimeout: .seconds(3), connection: Self.connection) {
                server in
                let raw = try await RawRPCClient.connect(
                    port: server.port, group: server.group, opening: .deferredTLS,
                    context: try server.makeClientContext())
                // 2 s before the handshake and 2 s after it: each within its own 3 s timeout,
                // together beyond the first-frame timeout had it started at the accept.
                try await Task.sleep(for: .seconds(2))
                try await raw.startHandshake()
                #expect(await eventually(timeout: .seconds(5)) { raw.isHandshakeComplete.current })
                try await Task.sleep(for: .seconds(2))
                try await raw.send([.makePing(data: 7)])
                let pong = await raw.frame { $0.kind == .ping && $0.ping?.ack == true }
                #expect(pong != nil)
                #expect(!raw.isClosed.current)
            }
        }

        @Test("after a first frame, a body that never arrives is closed by keepalive")
        func bodyNeverArrivesAfterFirstFrame() async throws {
            try await self.withBystander(limits: Self.keepaliveLimits) { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                raw.answersPings.update { $0 = false }
                try await raw.send([.makePing(data: 1)])
                let pong = await raw.frame { $0.kind == .ping && $0.ping?.ack == true }
                #expect(pong != nil)
                try await raw.send(plaintext: Self.lengthPrefix(100) + [UInt8](repeating: 1, count: 10))
                #expect(await raw.closed(within: .seconds(6)))
            }
        }

        @Test("20 connections sending a byte a second are closed by timeouts; a bystander is not slowed")
        func slowLoris() async throws {
            try await self.withBystander(loggingAtMost: 20) { server in
                let context = try server.makeClientContext()
                var loris: [(client: RawRPCClient, bytes: [UInt8], isSecure: Bool)] = []
                for index in 0..<20 {
                    if index % 2 == 0 {
                        // The start of a TLS record announcing a 512-byte ClientHello: the handshake never ends.
                        let client = try await RawRPCClient.connect(
                            port: server.port, group: server.group, opening: .plaintext)
                        loris.append((client, [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC], false))
                    } else {
                        // A TLS connection whose first frame comes a byte at a time.
                        let client = try await RawRPCClient.connect(
                            port: server.port, group: server.group, opening: .tls(), context: context)
                        #expect(await eventually(timeout: .seconds(5)) { client.isHandshakeComplete.current })
                        loris.append((client, try FrameEncoder().encode(.makePing(data: 2)), true))
                    }
                }

                let clock = ContinuousClock()
                let start = clock.now
                let bystander = try server.makeChannel()
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    for (client, bytes, isSecure) in loris {
                        tasks.addTask {
                            for byte in bytes where !client.isClosed.current {
                                if isSecure {
                                    try? await client.send(plaintext: [byte])
                                } else {
                                    try? await client.send(raw: [byte])
                                }
                                try await Task.sleep(for: .seconds(1))
                            }
                        }
                    }
                    tasks.addTask {
                        for round in 0..<20 {
                            let began = clock.now
                            let answer = try await bystander.call(TestMethod.echo, [UInt8(round)], within: .seconds(2))
                            #expect(answer == [UInt8(round)])
                            #expect(clock.now - began < .seconds(1))
                            try await Task.sleep(for: .milliseconds(100))
                        }
                    }
                    try await tasks.waitForAll()
                }
                #expect(loris.allSatisfy { $0.client.isClosed.current })
                #expect(clock.now - start < .seconds(10))
            }
        }

        // MARK: - Not the protocol

        @Test("plaintext HTTP to the TLS port is closed")
        func plaintextHTTP() async throws {
            try await self.withBystander { server in
                let raw = try await RawRPCClient.connect(port: server.port, group: server.group, opening: .plaintext)
                try await raw.send(raw: Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
                #expect(await raw.closed(within: .seconds(3)))
            }
        }

        @Test("TLS offering no ALPN protocol, or another one, is refused in the handshake", arguments: [[], ["h2"]])
        func wrongApplicationProtocol(_ offered: [String]) async throws {
            try await self.withBystander { server in
                let raw = try await RawRPCClient.connect(
                    port: server.port, group: server.group, opening: .tls(alpn: offered),
                    context: try server.makeClientContext())
                #expect(await raw.closed(within: .seconds(3)))
                #expect(!raw.isHandshakeComplete.current)
                #expect(raw.failure.current != nil)
            }
        }

        @Test("a frame cut short by the client closing is dropped with its connection")
        func truncatedFrameThenClose() async throws {
            try await self.withBystander { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                #expect(await eventually { server.connectionCount == 2 })
                try await raw.send(plaintext: Self.lengthPrefix(50) + [UInt8](repeating: 2, count: 20))
                try await raw.close()
                #expect(await raw.closed())
                #expect(await eventually(timeout: .seconds(3)) { server.connectionCount == 1 })
            }
        }

        @Test("a body that is not protobuf gets GOAWAY(PROTOCOL_ERROR) and a close")
        func garbageProtobuf() async throws {
            try await self.withBystander { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                try await raw.send(plaintext: Self.lengthPrefix(8) + [UInt8](repeating: 0xFF, count: 8))
                #expect(await raw.goAway()?.reason == .protocolError)
                #expect(await raw.closed())
            }
        }

        @Test("a frame of unknown kind 99 gets GOAWAY(PROTOCOL_ERROR) naming it, and a close")
        func unknownFrameKind() async throws {
            try await self.withBystander { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                try await raw.send([V1.Frame(streamID: 1, kind: .unrecognized(99))])
                let goAway = await raw.goAway()
                #expect(goAway?.reason == .protocolError)
                #expect(goAway?.message.contains("KIND_99") == true)
                #expect(await raw.closed())
            }
        }

        @Test("a stream id used twice gets GOAWAY(PROTOCOL_ERROR) after the first call's answer")
        func reusedStreamID() async throws {
            try await self.withBystander { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                let request = V1.Frame.makeRequest(streamID: 1, method: TestMethod.echo.fullName, payload: [1])
                try await raw.send([request])
                let answer = await raw.frame { $0.streamID == 1 }
                #expect(answer?.payload == [1])
                try await raw.send([request])
                let goAway = await raw.goAway()
                #expect(goAway?.reason == .protocolError)
                #expect(goAway?.lastStreamID == 1)
                #expect(await raw.closed())
            }
        }

        // MARK: - Too much

        @Test("10,000 stream opens at once run at most the limit and refuse the rest; the connection stays up")
        func tenThousandStreams() async throws {
            // A debug build on a loaded machine can take tens of seconds over 10,000 frames: the
            // short timeouts of these tests would close this connection, or the idle bystander's.
            var limits = Self.limits
            limits.firstFrameTimeout = .seconds(60)
            limits.idleTimeout = .seconds(180)
            try await self.withBystander(limits: limits) { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                let count = 10_000
                let limit = Self.limits.maximumConcurrentStreams
                let requests = Self.slowRequests(count: count)
                try await raw.send(requests)

                let allAnswered = await eventually(timeout: .seconds(90)) { raw.responseCount == count - limit }
                #expect(allAnswered)
                let refusals = raw.frames.current.filter { $0.kind == .response }
                #expect(refusals.allSatisfy { $0.callStatus.code == .resourceExhausted })
                #expect(await eventually { server.dispatcher.record.current.slowStarted.count == limit })
                #expect(server.dispatcher.record.current.slowMostRunning <= limit)

                try await raw.send([.makePing(data: 7)])
                let pong = await raw.frame { $0.kind == .ping && $0.ping?.data == 7 }
                #expect(pong?.ping?.ack == true)
                try await raw.send(Self.cancels(of: requests, running: server.dispatcher.record.current.slowStarted))
                #expect(await eventually { server.dispatcher.record.current.slowCancelled.count == limit })
                #expect(!raw.isClosed.current)
            }
        }

        @Test("a client that never reads a stream is closed with memory bounded; others are unaffected")
        func clientNeverReads() async throws {
            try await self.withBystander(limits: Self.keepaliveLimits) { server in
                let before = residentMemory()
                let raw = try await RawRPCClient.connectSecurely(to: server, keptPayloadBytes: 4)
                try await raw.setReadingPaused(true)
                let order = StreamOrder(count: StreamOrder.unending, size: 16 * 1024)
                try await raw.send([
                    .makeRequest(streamID: 1, method: TestMethod.stream.fullName, payload: order.payload)
                ])

                #expect(await eventually { server.dispatcher.record.current.streamMessagesAccepted > 10 })
                // Keepalive gives up on the client, whose answers to PINGs never come.
                let stopped = await eventually(timeout: .seconds(10)) {
                    server.dispatcher.record.current.streamsStopped == 1
                }
                #expect(stopped)
                #expect(server.dispatcher.record.current.streamBytesAccepted < 40 * 1024 * 1024)
                #expect(residentMemory() - before < 50 * 1024 * 1024)
                #expect(await eventually(timeout: .seconds(5)) { server.connectionCount == 1 })
            }
        }

        // MARK: - Helpers

        /// REQUESTs for the slow method on streams 1, 3, 5 and on, each tagged `s<index>`.
        static func slowRequests(count: Int) -> [V1.Frame] {
            (0..<count).map { index in
                V1.Frame.makeRequest(
                    streamID: UInt64(2 * index + 1), method: TestMethod.slow.fullName, payload: Array("s\(index)".utf8))
            }
        }

        /// CANCELs for the requests whose handlers run.
        static func cancels(of requests: [V1.Frame], running: Set<String>) -> [V1.Frame] {
            requests.filter { running.contains(String(decoding: $0.payload, as: UTF8.self)) }
                .map { V1.Frame.makeCancel(streamID: $0.streamID) }
        }

        /// The 4-byte big-endian prefix declaring `length` bytes.
        static func lengthPrefix(_ length: Int) -> [UInt8] {
            (0..<4).map { UInt8(truncatingIfNeeded: length >> (24 - 8 * $0)) }
        }

        /// A REQUEST whose encoding, without its prefix, is exactly `encodedLength` bytes, for a
        /// method whose answer is short.
        static func request(encodedLength: Int) throws -> V1.Frame {
            let encoder = FrameEncoder(limits: ProtocolLimits(maximumFrameLength: 2 * encodedLength))
            var payloadCount = encodedLength - 64
            for _ in 0..<8 {
                let frame = V1.Frame.makeRequest(
                    streamID: 1, method: TestMethod.peer.fullName, payload: [UInt8](repeating: 3, count: payloadCount))
                let length = try encoder.encode(frame).count - 4
                if length == encodedLength {
                    return frame
                }
                payloadCount += encodedLength - length
            }
            throw CallStatus(code: .internal, message: "no payload size encodes to \(encodedLength) bytes")
        }
    }
}
