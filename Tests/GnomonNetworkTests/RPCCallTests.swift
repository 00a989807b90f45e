import GnomonProtocol
import Testing

@testable import GnomonNetwork

extension SocketTests {
    @Suite("RPC calls over TLS", .timeLimit(.minutes(1)))
    struct RPCCallTests {
        @Test("a unary call comes back with its payload, empty or 10 KB")
        func unaryEcho() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let payload = pattern(count: 10_000, seed: 3)
                #expect(try await channel.call(TestMethod.echo, payload) == payload)
                #expect(try await channel.call(TestMethod.echo, []) == [])
            }
        }

        @Test("a call's deadline holds while its connection is still being made")
        func deadlineWhileConnecting() async throws {
            // A listener that takes the TCP connection and never answers the TLS ClientHello.
            let group = try EventLoopGroup(threads: 1, name: "mute-server")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: group, handler: accepted.makeHandler(echoes: false))
            let pki = try TestPKI()
            let channel = RPCChannel(
                configuration: RPCChannel.Configuration(
                    host: "127.0.0.1", port: listener.port, connectTimeout: .seconds(20)),
                tls: try TLSClientContext(configuration: TLSConfiguration(caFile: pki.files.caFile)),
                group: group)

            let clock = ContinuousClock()
            let start = clock.now
            let failure = await status { try await channel.call(TestMethod.echo, within: .milliseconds(300)) }
            let elapsed = clock.now - start
            #expect(failure?.code == .deadlineExceeded)
            // The handshake would have waited 10 s, and the connect timeout 20 s.
            #expect(elapsed < .seconds(5), "\(elapsed)")
            #expect(accepted.count == 1)

            channel.close()
            await listener.close()
            await group.shutdown()
        }

        @Test("a handler's failure reaches the caller as its status, code and message")
        func handlerStatus() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let failure = await status { try await channel.call(TestMethod.failing) }
                #expect(failure == TestDispatcher.refusal)
                #expect(try await channel.call(TestMethod.echo, [1]) == [1])
            }
        }

        @Test("200 concurrent calls on a fresh channel share one connection and get their own answers")
        func concurrentCalls() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let count = 200
                let answers = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { tasks in
                    for index in 0..<count {
                        tasks.addTask {
                            (index, try await channel.call(TestMethod.echo, pattern(count: 100 + index, seed: index)))
                        }
                    }
                    return try await tasks.reduce(into: [Int: [UInt8]]()) { $0[$1.0] = $1.1 }
                }
                #expect(answers.count == count)
                for index in 0..<count {
                    #expect(answers[index] == pattern(count: 100 + index, seed: index))
                }
                #expect(server.connectionCount == 1)
            }
        }

        @Test("calls beyond the server's stream limit wait for a stream; cancelling one that waits sends nothing")
        func callsWaitForAStream() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let address = try await channel.peerAddress()
                let limit = ProtocolLimits().maximumConcurrentStreams
                let callers = (0..<limit + 20).map { index in
                    Task {
                        await status {
                            try await channel.unary(
                                TestMethod.slow, payload: Array("w\(index)".utf8), deadline: .now + .seconds(20))
                        }
                    }
                }
                #expect(await eventually { server.dispatcher.record.current.slowStarted.count == limit })
                try await Task.sleep(for: .milliseconds(100))
                let started = server.dispatcher.record.current.slowStarted
                #expect(started.count == limit)
                let waiting = (0..<callers.count).filter { !started.contains("w\($0)") }
                #expect(waiting.count == 20)

                for index in waiting.prefix(10) {
                    callers[index].cancel()
                    #expect(await callers[index].value?.code == .cancelled)
                }
                for index in 0..<callers.count where started.contains("w\(index)") {
                    callers[index].cancel()
                }
                // The ten still waiting get the streams the cancelled calls gave back.
                #expect(await eventually { server.dispatcher.record.current.slowStarted.count == limit + 10 })
                for caller in callers {
                    caller.cancel()
                    #expect(await caller.value?.code == .cancelled)
                }
                let neverRan = waiting.prefix(10).map { "w\($0)" }
                #expect(server.dispatcher.record.current.slowStarted.isDisjoint(with: neverRan))
                #expect(try await channel.peerAddress() == address)
            }
        }

        @Test("a server-streaming call delivers every message in order, then finishes")
        func serverStreaming() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let order = StreamOrder(count: 500, size: 1_000)
                var received: [[UInt8]] = []
                for try await message in channel.serverStreaming(
                    TestMethod.stream, payload: order.payload, deadline: .now + .seconds(5))
                {
                    received.append(message)
                }
                #expect(received.count == 500)
                #expect(received == (0..<500).map { StreamOrder.message(index: $0, size: 1_000) })
            }
        }

        @Test("a stream that ends with a status throws it after its messages")
        func serverStreamingFailure() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let order = StreamOrder(count: 3, size: 8, finalCode: StatusCode.failedPrecondition.rawValue)
                var received = 0
                var failure: CallStatus?
                do {
                    for try await _ in channel.serverStreaming(TestMethod.stream, payload: order.payload) {
                        received += 1
                    }
                } catch let status as CallStatus {
                    failure = status
                }
                #expect(received == 3)
                #expect(failure?.code == .failedPrecondition)
            }
        }

        @Test("a stream message too large to frame ends the call with INTERNAL and stops its handler")
        func serverStreamingOversizedMessage() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let order = StreamOrder(count: 3, size: UInt32(ProtocolLimits.defaultMaximumFrameLength + 1))
                var received = 0
                var failure: CallStatus?
                do {
                    for try await _ in channel.serverStreaming(TestMethod.stream, payload: order.payload) {
                        received += 1
                    }
                } catch let status as CallStatus {
                    failure = status
                }
                #expect(received == 0)
                #expect(failure?.code == .internal)
                #expect(await eventually { server.dispatcher.record.current.streamsStopped == 1 })
                #expect(server.dispatcher.record.current.streamMessagesAccepted == 0)
                #expect(try await channel.call(TestMethod.echo, [1]) == [1])
            }
        }

        @Test("cancelling the task that reads a stream stops the server's handler")
        func serverStreamingCancellation() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let order = StreamOrder(count: StreamOrder.unending, size: 100)
                let reader = Task {
                    var received = 0
                    for try await _ in channel.serverStreaming(TestMethod.stream, payload: order.payload) {
                        received += 1
                    }
                    return received
                }
                #expect(await eventually { server.dispatcher.record.current.streamMessagesAccepted > 100 })
                reader.cancel()
                _ = try? await reader.value
                #expect(await eventually { server.dispatcher.record.current.streamsStopped == 1 })
                #expect(try await channel.call(TestMethod.echo, [2]) == [2])
            }
        }

        @Test("a deadline that passes fails the call with DEADLINE_EXCEEDED and cancels the handler")
        func deadlineExceeded() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let clock = ContinuousClock()
                let start = clock.now
                let failure = await status {
                    try await channel.unary(
                        TestMethod.slow, payload: Array("deadline".utf8), deadline: .now + .milliseconds(300))
                }
                #expect(failure?.code == .deadlineExceeded)
                #expect(clock.now - start < .seconds(3))
                #expect(await eventually { server.dispatcher.record.current.slowCancelled.contains("deadline") })
                #expect(try await channel.call(TestMethod.echo, [3]) == [3])
            }
        }

        @Test("cancelling the calling task fails the call with CANCELLED and cancels the handler")
        func taskCancellation() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let caller = Task {
                    await status {
                        try await channel.unary(
                            TestMethod.slow, payload: Array("cancel".utf8), deadline: .now + .seconds(20))
                    }
                }
                #expect(await eventually { server.dispatcher.record.current.slowStarted.contains("cancel") })
                caller.cancel()
                #expect(await caller.value?.code == .cancelled)
                #expect(await eventually { server.dispatcher.record.current.slowCancelled.contains("cancel") })
                #expect(try await channel.call(TestMethod.echo, [4]) == [4])
            }
        }

        @Test("a call made by a task already cancelled fails with CANCELLED and leaves no handler running")
        func callFromCancelledTask() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                _ = try await channel.call(TestMethod.echo)
                let caller = Task {
                    withUnsafeCurrentTask { $0?.cancel() }
                    return await status {
                        try await channel.unary(
                            TestMethod.slow, payload: Array("late".utf8), deadline: .now + .seconds(3))
                    }
                }
                #expect(await caller.value?.code == .cancelled)
                // The server may have started it before the CANCEL arrived, but must not keep it.
                #expect(await eventually { server.dispatcher.record.current.slowRunning == 0 })
            }
        }

        @Test("a request too large to frame fails alone with INVALID_ARGUMENT; the connection lives on")
        func oversizedRequest() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                let address = try await channel.peerAddress()
                let bystander = Task {
                    await status {
                        try await channel.unary(
                            TestMethod.slow, payload: Array("bystander".utf8), deadline: .now + .seconds(20))
                    }
                }
                #expect(await eventually { server.dispatcher.record.current.slowStarted.contains("bystander") })

                let tooLarge = [UInt8](repeating: 7, count: ProtocolLimits.defaultMaximumFrameLength + 1)
                let failure = await status { try await channel.call(TestMethod.echo, tooLarge) }
                #expect(failure?.code == .invalidArgument)

                #expect(try await channel.peerAddress() == address)
                #expect(!server.dispatcher.record.current.slowCancelled.contains("bystander"))
                bystander.cancel()
                #expect(await bystander.value?.code == .cancelled)
            }
        }

        @Test("an unknown method is refused with UNIMPLEMENTED and the connection stays usable")
        func unknownMethod() async throws {
            try await withRPCTestServer { server in
                let raw = try await RawRPCClient.connectSecurely(to: server)
                try await raw.send([.makeRequest(streamID: 1, method: "gnomon.v1.Nope/Nope", payload: [])])
                let refusal = await raw.frame { $0.streamID == 1 }
                #expect(refusal?.kind == .response)
                #expect(refusal?.callStatus.code == .unimplemented)

                try await raw.send([.makeRequest(streamID: 3, method: TestMethod.echo.fullName, payload: [9, 8])])
                let answer = await raw.frame { $0.streamID == 3 }
                #expect(answer?.kind == .response)
                #expect(answer?.callStatus == .ok)
                #expect(answer?.payload == [9, 8])
                #expect(!raw.isClosed.current)
                #expect(!raw.frames.current.contains { $0.kind == .goaway })
            }
        }

        @Test("shutting the server down lets a call in flight finish, then new calls fail UNAVAILABLE")
        func gracefulShutdown() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                _ = try await channel.call(TestMethod.echo)
                let inFlight = Task { try await channel.call(TestMethod.brief, [5]) }
                #expect(await eventually { server.dispatcher.record.current.briefStarted == 1 })

                let clock = ContinuousClock()
                let start = clock.now
                await server.stopServing(timeout: .seconds(5))
                #expect(clock.now - start < .seconds(4))
                #expect(try await inFlight.value == [5])
                #expect(server.dispatcher.record.current.briefFinished == 1)

                let refused = await status { try await channel.call(TestMethod.echo) }
                #expect(refused?.code == .unavailable)
            }
        }

        @Test("a connection accepted before shutdown but past its handshake only after is drained, not served")
        func handshakeAfterShutdown() async throws {
            try await withRPCTestServer { server in
                let raw = try await RawRPCClient.connect(
                    port: server.port, group: server.group, opening: .deferredTLS,
                    context: try server.makeClientContext())
                let listener = try #require(server.server?.listener)
                #expect(await eventually { listener.limiter.connectionCount == 1 })

                await server.stopServing()
                try await raw.startHandshake()
                #expect(await eventually { raw.isHandshakeComplete.current })
                try await raw.send([.makeRequest(streamID: 1, method: TestMethod.echo.fullName, payload: [1])])

                #expect(await raw.goAway()?.reason == .shutdown)
                #expect(await raw.closed())
                #expect(!raw.frames.current.contains { $0.kind == .response && $0.callStatus == .ok })
            }
        }

        @Test("calls fail UNAVAILABLE while the server is gone; the channel reconnects once it is back")
        func reconnect() async throws {
            try await withRPCTestServer { server in
                let channel = try server.makeChannel()
                #expect(try await channel.call(TestMethod.echo, [1]) == [1])

                await server.stopServing()
                for _ in 0..<3 {
                    let failure = await status { try await channel.call(TestMethod.echo, [2]) }
                    #expect(failure?.code == .unavailable)
                }

                try await server.listen()
                let reconnected = await eventually(timeout: .seconds(5)) {
                    (try? await channel.call(TestMethod.echo, [3], within: .seconds(1))) == [3]
                }
                #expect(reconnected)
                #expect(server.connectionCount == 1)
            }
        }

        @Test("a server whose certificate the client's CA did not sign fails UNAVAILABLE, naming verification")
        func wrongAuthority() async throws {
            try await withRPCTestServer { server in
                let stranger = try TestPKI()
                for _ in 0..<5 {
                    let channel = try server.makeChannel(caFile: stranger.files.caFile)
                    let failure = await status { try await channel.call(TestMethod.echo) }
                    #expect(failure?.code == .unavailable)
                    let message = failure?.message ?? ""
                    #expect(message.contains("certificate verify failed"), "\(message)")
                }
                #expect(try await server.makeChannel().call(TestMethod.echo, [6]) == [6])
            }
        }

        @Test("a streaming handler waits for a reader that paused instead of overflowing its connection")
        func streamingBackpressure() async throws {
            // A small write buffer limit, which a handler that ignored backpressure would soon pass.
            let buffers = TCPConnection.Configuration(
                lowWatermark: 32 * 1024, highWatermark: 128 * 1024, writeBufferLimit: 512 * 1024)
            try await withRPCTestServer(connection: buffers) { server in
                let raw = try await RawRPCClient.connectSecurely(to: server, keptPayloadBytes: 4)
                let order = StreamOrder(count: 1_024, size: 16 * 1024)
                try await raw.setReadingPaused(true)
                try await raw.send([
                    .makeRequest(streamID: 1, method: TestMethod.stream.fullName, payload: order.payload)
                ])

                // The kernel takes a few megabytes of a loopback stream before the server's buffer fills.
                try await Task.sleep(for: .seconds(2))
                let produced = server.dispatcher.record.current.streamBytesAccepted
                #expect(produced > 0)
                #expect(produced < 8 * 1024 * 1024)
                #expect(!raw.isClosed.current)

                try await raw.setReadingPaused(false)
                // 16 MiB through a debug build's TLS on a loaded machine can take a minute.
                let end = await raw.frame(within: .seconds(180)) { $0.kind == .end }
                #expect(end?.callStatus == .ok)
                let messages = raw.frames.current.filter { $0.kind == .streamMessage }
                #expect(messages.count == 1_024)
                let inOrder = messages.map(\.payload) == (0..<1_024).map { StreamOrder.message(index: $0, size: 4) }
                #expect(inOrder)
                #expect(server.dispatcher.record.current.streamsStopped == 0)
            }
        }
    }
}
