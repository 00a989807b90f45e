import Glibc
import GnomonNetwork
import Testing

extension SocketTests {
    @Suite("TCP listener caps")
    struct TCPListenerLimitTests {
        @Test("at the server cap of 5, a 6th connection waits in the backlog until one of the 5 closes")
        func serverCap() async throws {
            let group = try EventLoopGroup(threads: 2, name: "cap")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: group,
                configuration: TCPListener.Configuration(maximumConnections: 5), handler: accepted.makeHandler())

            var clients: [(TCPConnection, ConnectionProbe)] = []
            for _ in 0..<5 {
                clients.append(try await TCPConnection.connectProbe(port: listener.port, on: group.next()))
            }
            #expect(await eventually { accepted.count == 5 })
            for (index, (client, probe)) in clients.enumerated() {
                client.send([UInt8(index)])
                #expect(await eventually { probe.receivedCount == 1 })
            }

            // The kernel completes the handshake, but the server does not take the connection yet.
            let (waiting, waitingProbe) = try await TCPConnection.connectProbe(port: listener.port, on: group.next())
            waiting.send(Array("held".utf8))
            try await Task.sleep(for: .milliseconds(300))
            #expect(accepted.count == 5)
            #expect(waitingProbe.receivedCount == 0)
            #expect(!waitingProbe.isClosed)
            #expect(listener.limiter.connectionCount == 5)

            let (first, _) = clients[0]
            first.eventLoop.execute { first.close() }
            #expect(await eventually { waitingProbe.receivedCount == 4 })
            #expect(waitingProbe.received.current == Array("held".utf8))
            #expect(accepted.count == 6)
            #expect(listener.limiter.connectionCount == 5)

            await group.shutdown()
        }

        @Test("a client address over its cap is closed at once, while other addresses are served")
        func perAddressCap() async throws {
            let group = try EventLoopGroup(threads: 2, name: "per-address")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "::", port: 0, group: group,
                configuration: TCPListener.Configuration(maximumConnections: 100, maximumConnectionsPerAddress: 2),
                handler: accepted.makeHandler())

            let (_, first) = try await TCPConnection.connectProbe(port: listener.port, on: group.next())
            let (_, second) = try await TCPConnection.connectProbe(port: listener.port, on: group.next())
            #expect(await eventually { accepted.count == 2 })
            let (_, refused) = try await TCPConnection.connectProbe(port: listener.port, on: group.next())
            #expect(await eventually { refused.isClosed })
            #expect(!first.isClosed && !second.isClosed)
            #expect(accepted.count == 2)
            #expect(listener.limiter.connectionCount(address: "127.0.0.1") == 2)

            let (other, otherProbe) = try await TCPConnection.connectProbe(
                host: "::1", port: listener.port, on: group.next())
            other.send([42])
            #expect(await eventually { otherProbe.receivedCount == 1 })
            #expect(listener.limiter.connectionCount(address: "::1") == 1)
            #expect(listener.limiter.connectionCount == 3)

            await group.shutdown()
        }
    }
}
