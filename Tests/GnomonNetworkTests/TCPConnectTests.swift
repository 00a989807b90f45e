import Glibc
import GnomonNetwork
import Testing

/// A listening socket that never accepts, with the smallest backlog the kernel allows.
///
/// Once one connection fills its backlog, the kernel drops further SYNs, so a connect to it
/// neither succeeds nor fails: the case a connect timeout exists for.
private final class NeverAcceptingListener {
    let descriptor: Int32
    let port: UInt16

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && listen(descriptor, 0) == 0
                    && getsockname(descriptor, address, &length) == 0
            }
        }
        guard bound else {
            let error = SystemError(call: "bind", errno: errno)
            close(descriptor)
            throw error
        }
        self.descriptor = descriptor
        self.port = UInt16(bigEndian: address.sin_port)
    }

    deinit {
        close(self.descriptor)
    }
}

extension SocketTests {
    @Suite("TCP connect")
    struct TCPConnectTests {
        @Test("connecting to a closed port fails with ECONNREFUSED from connect")
        func refused() async throws {
            let group = try EventLoopGroup(threads: 1, name: "refused")
            let listener = try await TCPListener.bind(host: "127.0.0.1", port: 0, group: group) { _ in
                RecordingHandler(probe: ConnectionProbe())
            }
            let port = listener.port
            await listener.close()

            do {
                _ = try await TCPConnection.connectProbe(port: port, on: group.next())
                Issue.record("connected to a closed port")
            } catch {
                #expect(error.errno == ECONNREFUSED)
                #expect(error.call == "connect")
                #expect("\(error)".contains("refused"))
            }
            await group.shutdown()
        }

        @Test("a connect the peer never answers fails with ETIMEDOUT after the timeout")
        func timeout() async throws {
            let group = try EventLoopGroup(threads: 1, name: "timeout")
            let silent = try NeverAcceptingListener()
            var timedOut: SystemError?
            var elapsed = Duration.zero
            // The first connections fill the backlog; a later one waits for an answer that never comes.
            for _ in 0..<4 where timedOut == nil {
                let started = ContinuousClock.now
                do {
                    _ = try await TCPConnection.connect(
                        host: "127.0.0.1", port: silent.port, on: group.next(), timeout: .milliseconds(300)
                    ) { _ in RecordingHandler(probe: ConnectionProbe()) }
                } catch {
                    timedOut = error
                    elapsed = ContinuousClock.now - started
                }
            }

            let error = try #require(timedOut)
            #expect(error.errno == ETIMEDOUT)
            #expect(error.call == "connect")
            #expect(elapsed >= .milliseconds(300))
            #expect(elapsed < .seconds(3))
            await group.shutdown()
        }

        @Test("a host that does not resolve fails with getaddrinfo's error")
        func unresolvable() async throws {
            let group = try EventLoopGroup(threads: 1, name: "unresolvable")
            do {
                _ = try await TCPConnection.connectProbe(host: "no-such-host.invalid", port: 1, on: group.next())
                Issue.record("connected to a host that does not exist")
            } catch {
                #expect(error.call == "getaddrinfo" || error.errno == ETIMEDOUT)
            }
            await group.shutdown()
        }

        @Test("binding a port in use fails with EADDRINUSE; a bad host with EINVAL")
        func bindFailures() async throws {
            let group = try EventLoopGroup(threads: 1, name: "bind-fail")
            let first = try await TCPListener.bind(host: "127.0.0.1", port: 0, group: group) { _ in
                RecordingHandler(probe: ConnectionProbe())
            }
            do {
                _ = try await TCPListener.bind(host: "127.0.0.1", port: first.port, group: group) { _ in
                    RecordingHandler(probe: ConnectionProbe())
                }
                Issue.record("bound a port in use")
            } catch {
                #expect(error.errno == EADDRINUSE)
                #expect(error.call == "bind")
            }
            #expect(throws: SystemError.self) { try SocketAddress(numericHost: "300.1.2.3", port: 1) }
            await group.shutdown()
        }

        @Test("a connection's timers run on its loop, and closing it cancels them")
        func connectionTimers() async throws {
            let group = try EventLoopGroup(threads: 1, name: "conn-timers")
            let accepted = ServerProbes()
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: group, handler: accepted.makeHandler())
            let (client, _) = try await TCPConnection.connectProbe(port: listener.port, on: group.next())
            let fired = Recorder<[String]>([])

            try await client.eventLoop.submit {
                client.scheduleTimer(after: .milliseconds(10)) { fired.update { $0.append("first") } }
                let cancelled = client.scheduleTimer(after: .milliseconds(20)) { fired.update { $0.append("no") } }
                client.cancelTimer(cancelled)
                client.scheduleTimer(after: .milliseconds(300)) { fired.update { $0.append("after close") } }
            }
            #expect(await eventually { fired.current == ["first"] })
            try await client.eventLoop.submit { client.close() }
            try await Task.sleep(for: .milliseconds(400))
            #expect(fired.current == ["first"])
            await group.shutdown()
        }

        @Test("a connection idle past its timeout is closed with ETIMEDOUT; a busy one is not")
        func idleTimeout() async throws {
            let group = try EventLoopGroup(threads: 1, name: "idle")
            let accepted = ServerProbes()
            let configuration = TCPListener.Configuration(
                connection: TCPConnection.Configuration(idleTimeout: .milliseconds(400)))
            let listener = try await TCPListener.bind(
                host: "127.0.0.1", port: 0, group: group, configuration: configuration,
                handler: accepted.makeHandler())

            let (_, idleProbe) = try await TCPConnection.connectProbe(port: listener.port, on: group.next())
            let (busy, busyProbe) = try await TCPConnection.connectProbe(port: listener.port, on: group.next())
            let started = ContinuousClock.now
            while ContinuousClock.now - started < .milliseconds(900) {
                busy.send([1])
                try await Task.sleep(for: .milliseconds(25))
            }

            #expect(idleProbe.isClosed)
            #expect(!busyProbe.isClosed)
            let idleServer = accepted.probes.current.first { $0.closed.current != nil }
            #expect(idleServer?.closed.current?.errno == ETIMEDOUT)
            await group.shutdown()
        }
    }
}
