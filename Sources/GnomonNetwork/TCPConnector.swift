import Dispatch
import Glibc
import GnomonCore
import Synchronization

/// One outbound connection attempt: resolve, then try each address in turn, within a deadline.
///
/// Lives on its event loop's thread from ``start(host:port:timeout:)`` until it reports once.
/// Only ``report(_:)`` is thread-safe: a lookup that ends after the loop shut down reports
/// from Dispatch's thread, since the loop dropped the deadline that would have.
final class TCPConnector: EventLoopIOHandler {
    typealias Completion = @Sendable (Result<TCPConnection, SystemError>) -> Void

    private let eventLoop: EventLoop
    private let configuration: TCPConnection.Configuration
    private let makeHandler: @Sendable (TCPConnection) -> any TCPConnectionHandler
    private let completion: Completion

    private var addresses: [SocketAddress] = []
    private var nextAddress = 0
    private var pending: (socket: Socket, address: SocketAddress)?
    private var deadline: TimerID?
    private var lastError: SystemError?
    private var isFinished = false
    private let hasReported = Atomic(false)

    init(
        eventLoop: EventLoop,
        configuration: TCPConnection.Configuration,
        makeHandler: @escaping @Sendable (TCPConnection) -> any TCPConnectionHandler,
        completion: @escaping Completion
    ) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.makeHandler = makeHandler
        self.completion = completion
    }

    /// Arms the deadline and starts connecting, resolving a host name off the loop first.
    func start(host: String, port: UInt16, timeout: Duration) {
        self.deadline = self.eventLoop.scheduleTimer(after: timeout) { [self] in
            self.deadline = nil
            let target = HostAndPort(host: host, port: port)
            self.fail(
                SystemError(call: "connect", errno: ETIMEDOUT, reason: "no connection to \(target) within \(timeout)"))
        }
        if let address = try? SocketAddress(numericHost: host, port: port) {
            self.addressesResolved(.success([address]))
            return
        }
        // getaddrinfo blocks, so it runs on Dispatch's threads, never on the loop.
        let loop = self.eventLoop
        nonisolated(unsafe) let connector = self
        DispatchQueue.global().async {
            let result = Result { () throws(SystemError) in try SocketAddress.resolve(host: host, port: port) }
            if !loop.execute({ connector.addressesResolved(result) }) {
                connector.report(.failure(EventLoop.shutdownError("connect")))
            }
        }
    }

    func ioEventsReady(_ events: IOEvents) {
        guard let (socket, address) = self.pending else {
            return
        }
        self.pending = nil
        try? self.eventLoop.deregister(fd: socket.descriptor)
        let code = socket.takePendingError()
        guard code == 0 else {
            socket.close()
            self.lastError = Self.connectError(code, address)
            self.tryNextAddress()
            return
        }
        self.connected(socket, to: address)
    }

    func eventLoopWillShutDown() {
        self.fail(EventLoop.shutdownError("connect"))
    }

    private func addressesResolved(_ result: Result<[SocketAddress], SystemError>) {
        guard !self.isFinished else {
            return
        }
        switch result {
        case .success(let addresses):
            self.addresses = addresses
            self.tryNextAddress()

        case .failure(let error):
            self.fail(error)
        }
    }

    private func tryNextAddress() {
        while !self.isFinished && self.nextAddress < self.addresses.count {
            let address = self.addresses[self.nextAddress]
            self.nextAddress += 1
            do {
                let socket = try Socket(tcpFamily: address.family)
                if self.configuration.noDelay {
                    try socket.setOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
                }
                if try socket.connect(to: address) {
                    self.connected(socket, to: address)
                } else {
                    try self.eventLoop.register(fd: socket.descriptor, interest: .writable, handler: self)
                    self.pending = (socket, address)
                }
                return
            } catch {
                self.lastError = error.call == "connect" ? Self.connectError(error.errno, address) : error
            }
        }
        self.fail(self.lastError ?? SystemError(call: "connect", errno: EADDRNOTAVAIL))
    }

    private func connected(_ socket: Socket, to address: SocketAddress) {
        self.finishAttempt()
        let localAddress = (try? socket.localAddress()) ?? address
        let connection = TCPConnection(
            socket: socket, eventLoop: self.eventLoop, configuration: self.configuration,
            remoteAddress: address, localAddress: localAddress)
        do {
            try connection.activate(handler: self.makeHandler(connection))
        } catch {
            self.report(.failure(error))
            return
        }
        self.report(.success(connection))
    }

    /// Calls the completion, the first time only.
    func report(_ result: Result<TCPConnection, SystemError>) {
        guard
            self.hasReported.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else {
            return
        }
        self.completion(result)
    }

    /// A failed `connect`, naming the address it was for.
    private static func connectError(_ code: Int32, _ address: SocketAddress) -> SystemError {
        SystemError(call: "connect", errno: code, reason: "\(String(cString: strerror(code))) (to \(address))")
    }

    private func fail(_ error: SystemError) {
        guard !self.isFinished else {
            return
        }
        self.finishAttempt()
        if let (socket, _) = self.pending {
            try? self.eventLoop.deregister(fd: socket.descriptor)
            socket.close()
            self.pending = nil
        }
        self.report(.failure(error))
    }

    private func finishAttempt() {
        self.isFinished = true
        if let deadline = self.deadline {
            self.eventLoop.cancelTimer(deadline)
            self.deadline = nil
        }
    }
}
