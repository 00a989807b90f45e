import Glibc

/// The bytes of every key file, each read once, and a fingerprint of them all.
///
/// Keys are built from the same bytes the fingerprint covers, so a file replaced between
/// the two can never leave new keys recorded under an old fingerprint.
struct KeyFileSnapshot: Sendable {
    /// Key files are small; a larger file is refused rather than read into memory.
    static let maximumFileBytes = 1 << 20

    private var files: [String: Result<[UInt8], AuthenticationError>] = [:]
    /// SHA-256 over every path and its bytes, or why it could not be read, in a fixed order.
    private(set) var fingerprint: [UInt8] = []

    /// Reads every file the configuration names.
    init(configuration: JWTVerifierConfiguration) {
        let paths = configuration.keyFiles.map(\.path) + configuration.jwksFiles.map(\.path)
        var summary: [UInt8] = []
        for path in paths where self.files[path] == nil {
            let result = Self.readFile(path)
            self.files[path] = result
            summary += Array(path.utf8) + [0]
            switch result {
            case .success(let bytes):
                summary += [1] + (SHA256.hash(bytes) ?? [])
            case .failure(let error):
                summary += [2] + Array(error.message.utf8)
            }
            summary.append(0)
        }
        self.fingerprint = SHA256.hash(summary) ?? []
    }

    /// The file's bytes.
    ///
    /// - Throws: ``AuthenticationError`` with code `invalidConfiguration` saying why it could
    ///   not be read.
    func contents(of path: String) throws(AuthenticationError) -> [UInt8] {
        guard let result = self.files[path] else {
            throw AuthenticationError(.internalError, "key file \(path) was not read")
        }
        return try result.get()
    }

    /// The file's bytes, at most ``maximumFileBytes`` of them, or why they cannot be read.
    static func readFile(_ path: String) -> Result<[UInt8], AuthenticationError> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(Self.failure("cannot open key file \(path)"))
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = Glibc.read(descriptor, &chunk, chunk.count)
            if count < 0 && errno == EINTR {
                continue
            }
            guard count >= 0 else {
                return .failure(Self.failure("cannot read key file \(path)"))
            }
            guard count > 0 else {
                return .success(bytes)
            }
            bytes += chunk.prefix(count)
            guard bytes.count <= Self.maximumFileBytes else {
                return .failure(
                    AuthenticationError(
                        .invalidConfiguration,
                        "key file \(path) is larger than \(Self.maximumFileBytes) bytes; no key file is that large"
                    )
                )
            }
        }
    }

    private static func failure(_ summary: String) -> AuthenticationError {
        AuthenticationError(.invalidConfiguration, summary + ": " + String(cString: strerror(errno)))
    }
}
