/// A host and TCP port to listen on or connect to, written `host:port` or `[::1]:port`.
///
/// The host is kept as written, without brackets: a name or an address, resolved by the caller.
public struct HostAndPort: Sendable, Hashable, CustomStringConvertible {
    /// A host name, an IPv4 address or an IPv6 address without brackets.
    public var host: String

    /// The TCP port; 0 asks the system for a free one.
    public var port: UInt16

    /// Creates an address from its parts.
    ///
    /// - Parameters:
    ///   - host: A host name or address; an IPv6 address without brackets.
    ///   - port: The TCP port.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, with an IPv6 host in brackets, as `[::1]:7443`.
    ///
    /// - Parameter text: The address as typed.
    /// - Returns: The address, or `nil` when the host is missing or the port is not 0 to 65535.
    public init?(parsing text: String) {
        guard case .success(let address) = Self.parse(text) else {
            return nil
        }
        self = address
    }

    /// The address as typed: `host:port`, or `[host]:port` for an IPv6 host.
    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}

extension HostAndPort {
    /// A parsed address, or what a refused one should have looked like.
    enum ParseResult {
        case success(HostAndPort)
        case failure(expected: String)
    }

    static func parse(_ text: String) -> ParseResult {
        guard let (host, portText) = Self.splitHostAndPort(text) else {
            let isBareIPv6 = text.filter { $0 == ":" }.count > 1 && !text.hasPrefix("[")
            return .failure(
                expected: isBareIPv6 ? "host:port with an IPv6 host in brackets, as [::1]:7443" : "host:port")
        }
        guard !host.isEmpty else {
            return .failure(expected: "host:port with a host, such as 0.0.0.0 or 127.0.0.1")
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .failure(expected: "host:port")
        }
        guard let port = UInt16(portText) else {
            return .failure(expected: "host:port with a port from 0 to 65535")
        }
        return .success(HostAndPort(host: host, port: port))
    }

    /// Splits at the colon before the port, unbracketing an IPv6 host; `nil` when malformed.
    private static func splitHostAndPort(_ text: String) -> (host: String, port: Substring)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                return nil
            }
            let host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard host.contains(":"), rest.hasPrefix(":") else {
                return nil
            }
            return (String(host), rest.dropFirst())
        }
        guard let colon = text.firstIndex(of: ":"), text.lastIndex(of: ":") == colon else {
            return nil
        }
        let host = text[..<colon]
        guard !host.contains(where: { $0.isWhitespace || "[]/@".contains($0) }) else {
            return nil
        }
        return (String(host), text[text.index(after: colon)...])
    }
}
