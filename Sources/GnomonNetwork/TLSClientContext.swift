/// The TLS settings new client connections are made with, reloadable from their files.
///
/// Clients verify the server's certificate against the configuration's CA file, or the
/// system's certificate authorities when it names none, and present a certificate of their
/// own when the configuration names one, for servers that require mutual TLS. Thread-safe,
/// like ``TLSServerContext``.
public final class TLSClientContext: Sendable {
    private let reloader: TLSContextReloader

    /// Builds the context, reading the configuration's files or the system's authorities.
    ///
    /// - Throws: ``TLSError`` with code `invalidConfiguration` when only one of certificate
    ///   and key is set; `invalidCertificate` naming a file that cannot be used.
    public init(configuration: TLSConfiguration) throws(TLSError) {
        self.reloader = try TLSContextReloader(role: .client, configuration: configuration)
    }

    /// The settings the context was built with.
    public var configuration: TLSConfiguration {
        self.reloader.configuration
    }

    /// Makes the state of one connection to a server.
    ///
    /// - Parameter serverName: The host name or IP address the client connects to, which the
    ///   server's certificate must be valid for; it is also sent as SNI unless it is an address.
    /// - Throws: ``TLSError`` with code `invalidConfiguration` for an empty name, `internalError`
    ///   when OpenSSL runs out of memory.
    public func makeClientSession(serverName: String) throws(TLSError) -> TLSSession {
        try TLSSession(context: self.reloader.current, serverName: serverName)
    }

    /// Reads the files again, for connections made from now on.
    ///
    /// - Throws: ``TLSError`` naming the file that cannot be used; the context in use then
    ///   stays in use.
    public func reload() throws(TLSError) {
        try self.reloader.reload()
    }

    /// Reads the files again if any was replaced, written to or removed since the last load.
    ///
    /// - Returns: Whether new connections now use freshly read files.
    /// - Throws: ``TLSError`` naming the file that cannot be used.
    @discardableResult
    public func reloadIfChanged() throws(TLSError) -> Bool {
        try self.reloader.reloadIfChanged()
    }
}
