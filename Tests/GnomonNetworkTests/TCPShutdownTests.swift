import Glibc
import Testing

@testable import GnomonNetwork

extension SocketTests {
    @Suite("TCP shutdown")
    struct TCPShutdownTests {
        @Test("shutting the server's group down closes every connection, tells every handler, and leaks no descriptor")
        func shutdownClosesEverything() async throws {
            let before = DescriptorSnapshot.take()
            let server = try EventLoopGroup(threads: 2, name: "sd-server")
            let clients = try EventLoopGroup(threads: 2, name: "sd-client")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: server, handler: accepted.makeHandler())

            var probes: [ConnectionProbe] = []
            for index in 0..<20 {
                let (client, probe) = try await TCPConnection.connectProbe(port: listener.port, on: clients.next())
                client.send([UInt8(index)])
                probes.append(probe)
            }
            #expect(await eventually { probes.allSatisfy { $0.receivedCount == 1 } })
            let ports: Set = [listener.port]
            // 20 clients, 20 accepted and the listener. The loops' epoll instances and eventfds
            // are checked through the loops themselves: other suites running at the same time
            // open and close loops of their own.
            #expect(DescriptorSnapshot.take().opened(since: before, ports: ports, includingLoops: false).count == 41)
            let loops = server.loops + clients.loops
            #expect(!loops.contains { $0.selector.isClosed })

            await server.shutdown()
            #expect(accepted.count == 20)
            for probe in accepted.probes.current {
                #expect(probe.closed.current?.errno == ESHUTDOWN)
            }
            #expect(listener.limiter.connectionCount == 0)
            #expect(await eventually { probes.allSatisfy(\.isClosed) })

            await clients.shutdown()
            #expect(DescriptorSnapshot.take().opened(since: before, ports: ports, includingLoops: false) == [])
            #expect(loops.allSatisfy { $0.selector.isClosed }, "a loop's epoll instance or eventfd is still open")
        }

        @Test("connections closed by either side release their descriptors before the loops stop")
        func closedConnectionsReleaseDescriptors() async throws {
            let group = try EventLoopGroup(threads: 2, name: "sd-close")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: group, handler: accepted.makeHandler())
            let before = DescriptorSnapshot.take()

            for round in 0..<30 {
                let (client, probe) = try await TCPConnection.connectProbe(port: listener.port, on: group.next())
                client.send([UInt8(round)])
                #expect(await eventually { probe.receivedCount == 1 })
                if round.isMultiple(of: 2) {
                    client.eventLoop.execute { client.close() }
                } else {
                    client.eventLoop.execute { client.abort() }
                }
                #expect(await eventually { probe.isClosed })
            }
            #expect(await eventually { listener.limiter.connectionCount == 0 })
            // The loops were made before the baseline: only this test's sockets are looked for,
            // not loops that other tests start meanwhile.
            #expect(
                DescriptorSnapshot.take().opened(since: before, ports: [listener.port], includingLoops: false) == [])
            await group.shutdown()
        }
    }
}
