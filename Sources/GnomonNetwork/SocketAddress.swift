import Glibc

/// A numeric IPv4 or IPv6 address and a TCP port: one end of a connection.
///
/// The host is always numeric, as `127.0.0.1` or `::1`, so comparing two addresses never
/// needs a name lookup. Names are turned into addresses by ``resolve(host:port:)``.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The numeric host, as `127.0.0.1`, `::1` or `::ffff:10.0.0.1`, without brackets.
    public let host: String
    /// The TCP port.
    public let port: UInt16

    /// Creates an address from a numeric host.
    ///
    /// IPv6 zone indexes (`fe80::1%eth0`) are not supported.
    ///
    /// - Parameters:
    ///   - numericHost: An IPv4 address in dotted form or an IPv6 address, without brackets.
    ///   - port: The TCP port.
    /// - Throws: ``SystemError`` with `EINVAL` when the host is not a numeric address.
    public init(numericHost: String, port: UInt16) throws(SystemError) {
        var probe = in6_addr()
        let family = numericHost.contains(":") ? AF_INET6 : AF_INET
        guard inet_pton(family, numericHost, &probe) == 1 else {
            throw SystemError(
                call: "inet_pton", errno: EINVAL,
                reason: "'\(numericHost)' is not a numeric IPv4 or IPv6 address such as 127.0.0.1 or ::1")
        }
        self.host = Self.canonicalText(family: family, address: &probe)
        self.port = port
    }

    /// Whether this is an IPv6 address, IPv4-mapped ones included.
    public var isIPv6: Bool {
        self.host.contains(":")
    }

    /// The address as `host:port`, or `[host]:port` for IPv6.
    public var description: String {
        self.isIPv6 ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }

    /// The address family, `AF_INET` or `AF_INET6`.
    var family: Int32 {
        self.isIPv6 ? AF_INET6 : AF_INET
    }

    /// Reads an address the kernel wrote, as `accept` and `getsockname` do.
    init?(_ storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let address = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            var raw = address.sin_addr
            self.host = Self.canonicalText(family: AF_INET, address: &raw)
            self.port = UInt16(bigEndian: address.sin_port)
        case AF_INET6:
            let address = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            var raw = address.sin6_addr
            self.host = Self.canonicalText(family: AF_INET6, address: &raw)
            self.port = UInt16(bigEndian: address.sin6_port)
        default:
            return nil
        }
    }

    /// Calls `body` with this address as a `sockaddr` and its length.
    func withSocketAddress<Result>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> Result
    ) throws(SystemError) -> Result {
        var storage = sockaddr_storage()
        let length: Int
        if self.isIPv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = self.port.bigEndian
            inet_pton(AF_INET6, self.host, &address.sin6_addr)
            length = MemoryLayout<sockaddr_in6>.size
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in6.self) }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = self.port.bigEndian
            inet_pton(AF_INET, self.host, &address.sin_addr)
            length = MemoryLayout<sockaddr_in>.size
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in.self) }
        }
        return try withUnsafePointer(to: &storage) { (pointer) throws(SystemError) -> Result in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(SystemError) in
                try body(address, socklen_t(length))
            }
        }
    }

    /// The text `inet_ntop` gives for a raw address of `family`.
    private static func canonicalText<Raw>(family: Int32, address: inout Raw) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(family, &address, &text, socklen_t(text.count))
        return String(cString: text)
    }
}

extension SocketAddress {
    /// Looks up the addresses of a host, in the order the system prefers them.
    ///
    /// A numeric host is returned as it is without a lookup. A name goes through
    /// `getaddrinfo`, which may block on DNS: call this off the event loops and off
    /// Swift's cooperative thread pool.
    ///
    /// - Parameters:
    ///   - host: A host name or a numeric address, without brackets.
    ///   - port: The TCP port for every address.
    /// - Returns: At least one address.
    /// - Throws: ``SystemError`` for `getaddrinfo`, whose ``SystemError/errno`` is the `EAI_*` code.
    public static func resolve(host: String, port: UInt16) throws(SystemError) -> [SocketAddress] {
        if let numeric = try? SocketAddress(numericHost: host, port: port) {
            return [numeric]
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            let reason = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            throw SystemError(call: "getaddrinfo", errno: status, reason: "\(host): \(reason)")
        }
        defer { freeaddrinfo(list) }

        var addresses: [SocketAddress] = []
        var entry = list
        while let current = entry {
            if let raw = current.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(current.pointee.ai_addrlen)))
                }
                if let address = SocketAddress(storage), !addresses.contains(address) {
                    addresses.append(address)
                }
            }
            entry = current.pointee.ai_next
        }
        guard !addresses.isEmpty else {
            throw SystemError(call: "getaddrinfo", errno: EAI_NONAME, reason: "\(host): no IPv4 or IPv6 address")
        }
        return addresses
    }
}
