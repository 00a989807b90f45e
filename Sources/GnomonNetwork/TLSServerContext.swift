/// The TLS settings new server connections are made with, reloadable from their files.
///
/// Thread-safe: any thread may make sessions while another reloads. A reload swaps in the new
/// certificate for connections accepted afterwards; connections already open keep theirs, so
/// certificates can rotate under traffic.
public final class TLSServerContext: Sendable {
    private let reloader: TLSContextReloader

    /// Builds the context, reading the certificate chain, key and CA files.
    ///
    /// - Throws: ``TLSError`` with code `invalidConfiguration` when the settings lack a
    ///   certificate or key, or require client certificates without a CA file;
    ///   `invalidCertificate` naming a file that cannot be used.
    public init(configuration: TLSConfiguration) throws(TLSError) {
        self.reloader = try TLSContextReloader(role: .server, configuration: configuration)
    }

    /// The settings the context was built with.
    public var configuration: TLSConfiguration {
        self.reloader.configuration
    }

    /// Makes the state of one accepted connection, with the context's current certificate.
    ///
    /// - Throws: ``TLSError`` with code `internalError` when OpenSSL runs out of memory.
    public func makeServerSession() throws(TLSError) -> TLSSession {
        try TLSSession(context: self.reloader.current, serverName: nil)
    }

    /// Reads the files again, for connections accepted from now on.
    ///
    /// - Throws: ``TLSError`` naming the file that cannot be used; the context in use then
    ///   stays in use.
    public func reload() throws(TLSError) {
        try self.reloader.reload()
    }

    /// Reads the files again if any was replaced, written to or removed since the last load.
    ///
    /// Cheap enough to call every few seconds: it only examines the files unless they changed.
    /// Files that failed to load are not read again until they change once more.
    ///
    /// - Returns: Whether new connections now use freshly read files.
    /// - Throws: ``TLSError`` naming the file that cannot be used; the context in use then
    ///   stays in use.
    @discardableResult
    public func reloadIfChanged() throws(TLSError) -> Bool {
        try self.reloader.reloadIfChanged()
    }
}
