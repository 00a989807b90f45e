import Foundation
import Glibc
import GnomonNetwork
import Synchronization
import Testing

/// The parent of every suite that opens sockets or loops.
///
/// They run one at a time, so the descriptor counts and timings one test measures are its own.
@Suite("Event-driven sockets", .serialized)
struct SocketTests {}

/// A value that handlers on event loops write and a test reads.
final class Recorder<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ initial: Value) {
        self.value = Mutex(initial)
    }

    /// The value now.
    var current: Value {
        self.value.withLock { $0 }
    }

    /// Changes the value under the lock.
    @discardableResult
    func update<Result>(_ body: (inout Value) -> Result) -> Result {
        self.value.withLock { body(&$0) }
    }
}

/// How a connection ended, as its handler heard.
enum CloseReport: Sendable, Equatable {
    case clean
    case failed(SystemError)

    var errno: Int32? {
        guard case .failed(let error) = self else {
            return nil
        }
        return error.errno
    }
}

/// What one connection's handler saw, readable from the test.
final class ConnectionProbe: Sendable {
    let received = Recorder<[UInt8]>([])
    let byteCount = Recorder(0)
    let readCount = Recorder(0)
    let writability = Recorder<[Bool]>([])
    let closed = Recorder<CloseReport?>(nil)
    let connection = Recorder<TCPConnection?>(nil)

    var receivedCount: Int {
        self.byteCount.current
    }

    var isClosed: Bool {
        self.closed.current != nil
    }
}

/// Records everything into a probe, and optionally echoes what it reads.
///
/// When echoing, it pauses reading while its write buffer is over the high watermark and
/// resumes once it drained: the backpressure a real protocol handler applies.
final class RecordingHandler: TCPConnectionHandler {
    let probe: ConnectionProbe
    let echoes: Bool
    let keepsBytes: Bool
    let pausesAtStart: Bool

    init(probe: ConnectionProbe, echoes: Bool = false, keepsBytes: Bool = true, pausesAtStart: Bool = false) {
        self.probe = probe
        self.echoes = echoes
        self.keepsBytes = keepsBytes
        self.pausesAtStart = pausesAtStart
    }

    func connectionActive(_ connection: TCPConnection) {
        self.probe.connection.update { $0 = connection }
        if self.pausesAtStart {
            connection.setReadingPaused(true)
        }
    }

    func bytesReceived(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {
        self.probe.readCount.update { $0 += 1 }
        if self.keepsBytes {
            self.probe.received.update { $0.append(contentsOf: bytes) }
        }
        self.probe.byteCount.update { $0 += bytes.count }
        if self.echoes && !connection.write(bytes) {
            connection.setReadingPaused(true)
        }
    }

    func writabilityChanged(isWritable: Bool, on connection: TCPConnection) {
        self.probe.writability.update { $0.append(isWritable) }
        if self.echoes && isWritable {
            connection.setReadingPaused(false)
        }
    }

    func connectionClosed(_ error: SystemError?, on connection: TCPConnection) {
        self.probe.closed.update { $0 = error.map(CloseReport.failed) ?? .clean }
    }
}

/// The probes of every connection a server accepted, in the order they became active.
final class ServerProbes: Sendable {
    let probes = Recorder<[ConnectionProbe]>([])

    var count: Int {
        self.probes.current.count
    }

    /// A handler factory that records each connection here.
    func makeHandler(echoes: Bool = true) -> @Sendable (TCPConnection) -> any TCPConnectionHandler {
        { _ in
            let probe = ConnectionProbe()
            self.probes.update { $0.append(probe) }
            return RecordingHandler(probe: probe, echoes: echoes)
        }
    }
}

/// Polls `condition` every 5 ms until it holds or `timeout` passes.
///
/// - Returns: Whether the condition held in time.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() {
            return true
        }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}

/// The process's open descriptors, from `/proc/self/fd`, to find the ones a test leaked.
///
/// Other suites run alongside and open descriptors of their own, so a leak is a descriptor
/// opened since the baseline that is an epoll instance, an eventfd, or a TCP socket on one of
/// the test's ports; the rest of the process may come and go.
struct DescriptorSnapshot {
    /// `fd -> target` for each open descriptor, as `7 -> socket:[12345]`.
    let entries: Set<String>

    /// Reads the descriptors open now.
    static func take() -> DescriptorSnapshot {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        let entries = names.compactMap { name -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")
            else {
                return nil
            }
            return "\(name) -> \(target)"
        }
        return DescriptorSnapshot(entries: Set(entries))
    }

    /// The event-loop descriptors and the sockets on `ports` opened since `baseline`.
    ///
    /// - Parameter includingLoops: Whether event loops' epoll and eventfd descriptors count;
    ///   they are the whole process's, so other tests running at the same time add theirs.
    func opened(since baseline: DescriptorSnapshot, ports: Set<UInt16>, includingLoops: Bool = true) -> [String] {
        let socketPorts = Self.tcpSocketPorts()
        return self.entries.subtracting(baseline.entries).filter { entry in
            if entry.hasSuffix("anon_inode:[eventpoll]") || entry.hasSuffix("anon_inode:[eventfd]") {
                return includingLoops
            }
            guard let start = entry.range(of: "socket:["), let inode = UInt64(entry[start.upperBound...].dropLast())
            else {
                return false
            }
            return !(socketPorts[inode] ?? []).isDisjoint(with: ports)
        }.sorted()
    }

    /// The local and remote ports of each TCP socket, by inode.
    private static func tcpSocketPorts() -> [UInt64: Set<UInt16>] {
        var ports: [UInt64: Set<UInt16>] = [:]
        for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            // A /proc file reports size 0, so it is read to its end rather than by its size.
            guard let data = try? FileHandle(forReadingFrom: URL(fileURLWithPath: table)).readToEnd() else {
                continue
            }
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, let inode = UInt64(fields[9]) else {
                    continue
                }
                let endpoints = [fields[1], fields[2]].compactMap { $0.split(separator: ":").last }
                ports[inode, default: []].formUnion(endpoints.compactMap { UInt16($0, radix: 16) })
            }
        }
        return ports
    }
}

/// Bytes that differ from connection to connection and from offset to offset.
func pattern(count: Int, seed: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ $0 >> 8) }
}

extension TCPConnection {
    /// Writes from any thread by hopping onto the connection's loop.
    func send(_ bytes: [UInt8]) {
        self.eventLoop.execute { self.write(bytes) }
    }

    /// Connects a client that records into a fresh probe.
    static func connectProbe(
        host: String = "127.0.0.1",
        port: UInt16,
        on loop: EventLoop,
        configuration: Configuration = Configuration(),
        pausesAtStart: Bool = false,
        keepsBytes: Bool = true
    ) async throws(SystemError) -> (TCPConnection, ConnectionProbe) {
        let probe = ConnectionProbe()
        let connection = try await TCPConnection.connect(
            host: host, port: port, on: loop, configuration: configuration, timeout: .seconds(5)
        ) { _ in
            RecordingHandler(probe: probe, keepsBytes: keepsBytes, pausesAtStart: pausesAtStart)
        }
        return (connection, probe)
    }
}
