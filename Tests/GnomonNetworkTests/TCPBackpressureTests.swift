import Glibc
import GnomonNetwork
import Testing

/// Writes as long as its connection is writable, and counts what it wrote.
private final class FloodingHandler: TCPConnectionHandler {
    let written: Recorder<Int>
    private let chunk = [UInt8](repeating: 0x5A, count: 64 * 1024)

    init(written: Recorder<Int>) {
        self.written = written
    }

    func connectionActive(_ connection: TCPConnection) {
        // Never reads: the server's replies pile up in the kernel and then in its write buffer.
        connection.setReadingPaused(true)
        self.flood(connection)
    }

    func bytesReceived(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {}

    func writabilityChanged(isWritable: Bool, on connection: TCPConnection) {
        if isWritable {
            self.flood(connection)
        }
    }

    func connectionClosed(_ error: SystemError?, on connection: TCPConnection) {}

    private func flood(_ connection: TCPConnection) {
        var writable = true
        while writable && connection.isActive {
            writable = connection.write(self.chunk)
            self.written.update { $0 += self.chunk.count }
        }
    }
}

/// Writes far past its limit in one pass, ignoring writability.
private final class IgnoringWritabilityHandler: TCPConnectionHandler {
    let probe: ConnectionProbe

    init(probe: ConnectionProbe) {
        self.probe = probe
    }

    func connectionActive(_ connection: TCPConnection) {
        let chunk = [UInt8](repeating: 1, count: 64 * 1024)
        for _ in 0..<32 {
            connection.write(chunk)
        }
    }

    func bytesReceived(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {}

    func connectionClosed(_ error: SystemError?, on connection: TCPConnection) {
        self.probe.closed.update { $0 = error.map(CloseReport.failed) ?? .clean }
    }
}

/// Writes a block, then closes at once.
private final class WriteThenCloseHandler: TCPConnectionHandler {
    let payload: [UInt8]
    let probe: ConnectionProbe

    init(payload: [UInt8], probe: ConnectionProbe) {
        self.payload = payload
        self.probe = probe
    }

    func connectionActive(_ connection: TCPConnection) {
        connection.write(self.payload)
        connection.close()
        connection.write([0xFF])
    }

    func bytesReceived(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {}

    func connectionClosed(_ error: SystemError?, on connection: TCPConnection) {
        self.probe.closed.update { $0 = error.map(CloseReport.failed) ?? .clean }
    }
}

/// Streams numbered blocks from a task, each hopping onto the loop, and waits for room when full.
private final class StreamingHandler: TCPConnectionHandler, @unchecked Sendable {
    let blocks: Int
    let blockSize: Int
    let produced = Recorder(0)
    // The member below belongs to the connection's loop.
    private var waiting: CheckedContinuation<Void, Never>?

    init(blocks: Int, blockSize: Int) {
        self.blocks = blocks
        self.blockSize = blockSize
    }

    func connectionActive(_ connection: TCPConnection) {
        Task {
            for index in 0..<self.blocks {
                await self.send(index, on: connection)
            }
        }
    }

    func bytesReceived(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {}

    func writabilityChanged(isWritable: Bool, on connection: TCPConnection) {
        if isWritable {
            self.waiting?.resume()
            self.waiting = nil
        }
    }

    func connectionClosed(_ error: SystemError?, on connection: TCPConnection) {
        self.waiting?.resume()
        self.waiting = nil
    }

    /// Writes one block on the loop, returning once the connection has room for the next.
    private func send(_ index: Int, on connection: TCPConnection) async {
        let block = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: self.blockSize)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let accepted = connection.eventLoop.execute {
                self.produced.update { $0 += 1 }
                if connection.write(block) || !connection.isActive {
                    continuation.resume()
                } else {
                    self.waiting = continuation
                }
            }
            if !accepted {
                continuation.resume()
            }
        }
    }
}

extension SocketTests {
    @Suite("TCP backpressure")
    struct TCPBackpressureTests {
        static let small = TCPConnection.Configuration(lowWatermark: 64 * 1024, highWatermark: 256 * 1024)

        @Test("a client that never reads stops the server's buffer at the high watermark; others are still served")
        func clientThatNeverReads() async throws {
            let server = try EventLoopGroup(threads: 2, name: "bp-server")
            let clients = try EventLoopGroup(threads: 1, name: "bp-client")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: server,
                configuration: TCPListener.Configuration(connection: Self.small), handler: accepted.makeHandler())

            let written = Recorder(0)
            _ = try await TCPConnection.connect(
                host: "127.0.0.1", port: listener.port, on: clients.next(), configuration: Self.small
            ) { _ in FloodingHandler(written: written) }
            #expect(await eventually { accepted.count == 1 && accepted.probes.current[0].connection.current != nil })
            let flooded = try #require(accepted.probes.current[0].connection.current)

            let stuck = await eventually {
                let state = try? await flooded.eventLoop.submit { (flooded.isWritable, flooded.isReadingPaused) }
                return state.map { !$0.0 && $0.1 } ?? false
            }
            #expect(stuck)
            // The flood settles once the client's own buffer is full too; then nothing moves.
            let settled = await eventually {
                let before = written.current
                try? await Task.sleep(for: .milliseconds(100))
                return written.current == before
            }
            #expect(settled)
            let writtenThen = written.current
            let buffered = try await flooded.eventLoop.submit { flooded.bufferedByteCount }
            try await Task.sleep(for: .milliseconds(200))
            let bufferedLater = try await flooded.eventLoop.submit { flooded.bufferedByteCount }

            // Over the high watermark by at most the one read that crossed it.
            #expect(buffered > Self.small.highWatermark)
            #expect(buffered <= Self.small.highWatermark + 64 * 1024)
            #expect(bufferedLater == buffered)
            #expect(written.current == writtenThen)
            #expect(accepted.probes.current[0].writability.current == [false])

            let (other, probe) = try await TCPConnection.connectProbe(port: listener.port, on: clients.next())
            other.send(pattern(count: 100_000, seed: 9))
            #expect(await eventually { probe.receivedCount == 100_000 })
            #expect(probe.received.current == pattern(count: 100_000, seed: 9))

            await clients.shutdown()
            await server.shutdown()
        }

        @Test("once the slow client reads again, the server drains to the low watermark and resumes")
        func drainResumes() async throws {
            let group = try EventLoopGroup(threads: 2, name: "bp-resume")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: group,
                configuration: TCPListener.Configuration(connection: Self.small), handler: accepted.makeHandler())
            let (client, probe) = try await TCPConnection.connectProbe(
                port: listener.port, on: group.loops[0], configuration: Self.small, pausesAtStart: true,
                keepsBytes: false)
            #expect(await eventually { accepted.count == 1 && accepted.probes.current[0].connection.current != nil })
            let server = try #require(accepted.probes.current[0].connection.current)

            // 16 MiB is more than the kernel buffers between the two hold.
            let total = 16 * 1024 * 1024
            let block = [UInt8](repeating: 7, count: 256 * 1024)
            let sent = Recorder(0)
            let feeder = Task {
                while sent.current < total {
                    let writable = try await client.eventLoop.submit { client.isWritable }
                    if writable {
                        client.send(block)
                        sent.update { $0 += block.count }
                    } else {
                        try await Task.sleep(for: .milliseconds(2))
                    }
                }
            }
            #expect(await eventually { (try? await server.eventLoop.submit { !server.isWritable }) ?? false })

            client.eventLoop.execute { client.setReadingPaused(false) }
            try await feeder.value
            #expect(await eventually { probe.receivedCount == total })
            let events = accepted.probes.current[0].writability.current
            #expect(events.first == false)
            #expect(events.last == true)
            let drained = try await server.eventLoop.submit { (server.isWritable, server.isReadingPaused) }
            #expect(drained.0 && !drained.1)

            await group.shutdown()
        }

        @Test("a producer that waits for writability stops for a paused reader and delivers everything once it reads")
        func producerWaitsForRoom() async throws {
            let group = try EventLoopGroup(threads: 2, name: "bp-stream")
            let blocks = 1024
            let blockSize = 64 * 1024
            let producer = Recorder<StreamingHandler?>(nil)
            let listener = try await TCPListener.bind(host: "127.0.0.1", port: 0, group: group) { _ in
                let handler = StreamingHandler(blocks: blocks, blockSize: blockSize)
                producer.update { $0 = handler }
                return handler
            }
            let (client, probe) = try await TCPConnection.connectProbe(
                port: listener.port, on: group.loops[0], pausesAtStart: true, keepsBytes: false)

            try await Task.sleep(for: .milliseconds(500))
            let producedWhilePaused = producer.current?.produced.current ?? 0
            // The write buffer and the kernel's buffers between the two hold a few MiB, not 64.
            #expect(producedWhilePaused > 0)
            #expect(producedWhilePaused < 256)

            client.eventLoop.execute { client.setReadingPaused(false) }
            #expect(await eventually { probe.receivedCount == blocks * blockSize })
            #expect(producer.current?.produced.current == blocks)
            await group.shutdown()
        }

        @Test("a handler that ignores writability is cut off at the write buffer limit with ENOBUFS")
        func writeBufferLimit() async throws {
            let group = try EventLoopGroup(threads: 1, name: "bp-limit")
            let serverProbe = ConnectionProbe()
            let configuration = TCPConnection.Configuration(
                lowWatermark: 64 * 1024, highWatermark: 256 * 1024, writeBufferLimit: 512 * 1024)
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: group,
                configuration: TCPListener.Configuration(connection: configuration)
            ) { _ in IgnoringWritabilityHandler(probe: serverProbe) }
            let (_, clientProbe) = try await TCPConnection.connectProbe(port: listener.port, on: group.next())

            #expect(await eventually { serverProbe.isClosed })
            #expect(serverProbe.closed.current?.errno == ENOBUFS)
            #expect(await eventually { clientProbe.isClosed })
            await group.shutdown()
        }

        @Test("close writes everything buffered before the end, and later writes are dropped")
        func closeFlushesFirst() async throws {
            let group = try EventLoopGroup(threads: 2, name: "bp-close")
            let payload = pattern(count: 3 * 1024 * 1024, seed: 5)
            let serverProbe = ConnectionProbe()
            let listener = try await TCPListener.bind(host: "127.0.0.1", port: 0, group: group) { _ in
                WriteThenCloseHandler(payload: payload, probe: serverProbe)
            }
            let (_, probe) = try await TCPConnection.connectProbe(port: listener.port, on: group.loops[0])

            #expect(await eventually { probe.isClosed && serverProbe.isClosed })
            #expect(probe.received.current == payload)
            #expect(probe.closed.current == .clean)
            #expect(serverProbe.closed.current == .clean)
            await group.shutdown()
        }
    }
}
