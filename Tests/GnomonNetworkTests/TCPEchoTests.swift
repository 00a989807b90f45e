import Glibc
import GnomonNetwork
import Testing

extension SocketTests {
    @Suite("TCP echo")
    struct TCPEchoTests {
        @Test("200 concurrent clients get their own bytes back from a two-thread server")
        func manyConcurrentClients() async throws {
            let server = try EventLoopGroup(threads: 2, name: "echo-server")
            let clients = try EventLoopGroup(threads: 2, name: "echo-client")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: server, handler: accepted.makeHandler())
            #expect(listener.port != 0)

            let count = 200
            let size = 16 * 1024
            let connected = try await withThrowingTaskGroup(of: (Int, TCPConnection, ConnectionProbe).self) { tasks in
                for index in 0..<count {
                    tasks.addTask {
                        let (connection, probe) = try await TCPConnection.connectProbe(
                            port: listener.port, on: clients.next())
                        return (index, connection, probe)
                    }
                }
                return try await tasks.reduce(into: []) { $0.append($1) }
            }
            for (index, connection, _) in connected {
                let bytes = pattern(count: size, seed: index)
                // Four writes from another thread, each landing on the loop as its own task.
                for part in 0..<4 {
                    connection.send(Array(bytes[part * size / 4..<(part + 1) * size / 4]))
                }
            }

            let allEchoed = await eventually { connected.allSatisfy { $0.2.receivedCount >= size } }
            #expect(allEchoed)
            for (index, _, probe) in connected {
                #expect(probe.received.current == pattern(count: size, seed: index))
            }
            #expect(accepted.count == count)
            #expect(listener.limiter.connectionCount == count)
            let loopsUsed = Set(
                accepted.probes.current.compactMap { $0.connection.current.map { ObjectIdentifier($0.eventLoop) } })
            #expect(loopsUsed.count == 2)

            await clients.shutdown()
            #expect(await eventually { listener.limiter.connectionCount == 0 })
            await server.shutdown()
        }

        @Test("many writes in one pass arrive coalesced; one large write arrives split; bytes stay in order")
        func splitAndCoalescedReads() async throws {
            let group = try EventLoopGroup(threads: 2, name: "split")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: group, handler: accepted.makeHandler(echoes: false))
            let (client, _) = try await TCPConnection.connectProbe(port: listener.port, on: group.loops[0])
            #expect(await eventually { accepted.count == 1 && accepted.probes.current[0].connection.current != nil })
            let server = accepted.probes.current[0]

            // A hundred 10-byte writes in one task are flushed together at the end of the pass.
            let small = pattern(count: 1000, seed: 1)
            try await client.eventLoop.submit {
                for offset in stride(from: 0, to: small.count, by: 10) {
                    client.write(Array(small[offset..<offset + 10]))
                }
            }
            #expect(await eventually { server.receivedCount == small.count })
            #expect(server.readCount.current < 10)

            let large = pattern(count: 1024 * 1024, seed: 2)
            let readsBefore = server.readCount.current
            client.send(large)
            #expect(await eventually { server.receivedCount == small.count + large.count })
            #expect(server.readCount.current - readsBefore > 1)
            #expect(server.received.current == small + large)

            await group.shutdown()
        }

        @Test("an IPv6 listener on ::1 echoes, and a dual-stack one sees IPv4 clients as mapped addresses")
        func ipv6() async throws {
            let group = try EventLoopGroup(threads: 1, name: "ipv6")
            let accepted = ServerProbes()
            let loopback = try await TCPListener.bind(
                host: "::1", port: 0, group: group, handler: accepted.makeHandler())
            #expect(loopback.localAddress.host == "::1")
            #expect(loopback.localAddress.description == "[::1]:\(loopback.port)")

            let (client, probe) = try await TCPConnection.connectProbe(
                host: "::1", port: loopback.port, on: group.next())
            client.send(Array("over IPv6".utf8))
            #expect(await eventually { probe.receivedCount == 9 })
            #expect(client.remoteAddress.host == "::1")

            let dualStack = try await TCPListener.bind(
                host: "::", port: 0, group: group, handler: accepted.makeHandler())
            let (mapped, mappedProbe) = try await TCPConnection.connectProbe(port: dualStack.port, on: group.next())
            mapped.send(Array("over IPv4".utf8))
            #expect(await eventually { mappedProbe.receivedCount == 9 })
            let peer = accepted.probes.current.last?.connection.current?.remoteAddress
            #expect(peer?.host == "::ffff:127.0.0.1")
            #expect(dualStack.limiter.connectionCount(address: "127.0.0.1") == 1)

            await group.shutdown()
        }

        @Test("a host name is resolved off the loop and connected to")
        func connectByName() async throws {
            let group = try EventLoopGroup(threads: 1, name: "by-name")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: group, handler: accepted.makeHandler())
            let (client, probe) = try await TCPConnection.connectProbe(
                host: "localhost", port: listener.port, on: group.next())
            client.send([1, 2, 3])
            #expect(await eventually { probe.receivedCount == 3 })
            #expect(client.remoteAddress.port == listener.port)
            await group.shutdown()
        }
    }
}
