import Glibc

extension CertificateFiles {
    /// The names a development server is reached by on its own machine.
    public static let developmentHostNames = ["localhost", "127.0.0.1", "::1"]

    static let authorityValidDays = 3650
    static let leafValidDays = 365
    /// Certificates this close to expiring are replaced rather than reused.
    static let renewalSeconds = 30 * 86_400

    /// Makes sure a folder holds a development CA and a server certificate it signed.
    ///
    /// Files that are valid are reused: a CA that is not about to expire, and a server
    /// certificate signed by it, with its key, valid for every name in `hostNames`. Anything
    /// missing, expiring within 30 days or not matching is made anew, and a new CA brings a
    /// new server certificate. Keys are P-256, written readable by their owner only. Two
    /// processes calling this on one folder at once take turns.
    ///
    /// - Parameters:
    ///   - folder: The folder, created if missing: `ca.pem`, `ca-key.pem`, `server.pem` and
    ///     `server-key.pem` go in it.
    ///   - hostNames: Host names and IP addresses the server certificate is valid for; the
    ///     first is its common name.
    /// - Returns: The CA that clients should trust, and the server's certificate and key.
    /// - Throws: ``TLSError`` with code `certificateGenerationFailed` naming the file or call.
    public static func ensureDevelopment(
        in folder: String,
        hostNames: [String] = Self.developmentHostNames
    ) throws(TLSError) -> CertificateFiles {
        guard let commonName = hostNames.first else {
            throw TLSError(.invalidConfiguration, "a development server certificate needs at least one host name")
        }
        for name in hostNames {
            try Certificate.checkHostName(name)
        }
        try Self.makeFolder(folder)
        return try Self.whileLocked(folder) { () throws(TLSError) in
            let authority = try Self.ensureDevelopmentAuthority(in: folder)
            let files = CertificateFiles(
                caFile: "\(folder)/ca.pem",
                certificateFile: "\(folder)/server.pem",
                keyFile: "\(folder)/server-key.pem"
            )
            if let existing = try? Certificate.load(fromPEMFile: files.certificateFile),
                let key = try? CertificateKey.load(fromPEMFile: files.keyFile),
                existing.belongs(to: key),
                existing.isIssued(by: authority.certificate, key: authority.key),
                !existing.expires(withinSeconds: Self.renewalSeconds),
                hostNames.allSatisfy(existing.isValid(forHost:))
            {
                return files
            }
            try Self.issue(commonName: commonName, hostNames: hostNames, usage: .server, by: authority, to: files)
            return files
        }
    }

    /// Issues a client certificate for mutual TLS, signed by the development CA of a folder.
    ///
    /// - Parameters:
    ///   - commonName: The client's name, which servers see as `CN=<name>` in its subject.
    ///   - folder: A folder prepared by ``ensureDevelopment(in:hostNames:)``; the certificate
    ///     and key go in it as `client-<name>.pem` and `client-<name>-key.pem`.
    /// - Returns: The CA that signed the certificate, the certificate and its key.
    /// - Throws: ``TLSError`` with code `certificateGenerationFailed`.
    public static func issueDevelopmentClientCertificate(
        commonName: String,
        in folder: String
    ) throws(TLSError) -> CertificateFiles {
        let safeName = String(commonName.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") ? $0 : "_" })
        let files = CertificateFiles(
            caFile: "\(folder)/ca.pem",
            certificateFile: "\(folder)/client-\(safeName).pem",
            keyFile: "\(folder)/client-\(safeName)-key.pem"
        )
        return try Self.issueDevelopment(commonName: commonName, usage: .client, in: folder, to: files)
    }

    /// Issues a certificate signed by the development CA of a folder, to the given files.
    static func issueDevelopment(
        commonName: String,
        hostNames: [String] = [],
        usage: Certificate.Usage,
        in folder: String,
        to files: CertificateFiles
    ) throws(TLSError) -> CertificateFiles {
        try Self.makeFolder(folder)
        return try Self.whileLocked(folder) { () throws(TLSError) in
            let authority = try Self.ensureDevelopmentAuthority(in: folder)
            try Self.issue(commonName: commonName, hostNames: hostNames, usage: usage, by: authority, to: files)
            return files
        }
    }

    private static func ensureDevelopmentAuthority(
        in folder: String
    ) throws(TLSError) -> (certificate: Certificate, key: CertificateKey) {
        let certificateFile = "\(folder)/ca.pem"
        let keyFile = "\(folder)/ca-key.pem"
        if let certificate = try? Certificate.load(fromPEMFile: certificateFile),
            let key = try? CertificateKey.load(fromPEMFile: keyFile),
            certificate.belongs(to: key),
            !certificate.expires(withinSeconds: Self.renewalSeconds)
        {
            return (certificate, key)
        }
        let key = try CertificateKey.generate()
        let certificate = try Certificate.issue(
            commonName: "Gnomon development CA",
            usage: .authority,
            key: key,
            validDays: Self.authorityValidDays,
            issuer: nil
        )
        try Self.writeAtomically(try key.pem(), to: keyFile, mode: 0o600)
        try Self.writeAtomically(try certificate.pem(), to: certificateFile, mode: 0o644)
        return (certificate, key)
    }

    private static func issue(
        commonName: String,
        hostNames: [String],
        usage: Certificate.Usage,
        by authority: (certificate: Certificate, key: CertificateKey),
        to files: CertificateFiles
    ) throws(TLSError) {
        let key = try CertificateKey.generate()
        let certificate = try Certificate.issue(
            commonName: commonName,
            hostNames: hostNames,
            usage: usage,
            key: key,
            validDays: Self.leafValidDays,
            issuer: authority
        )
        // The key first: a reload between the two renames finds a key that does not match the
        // old certificate, fails, keeps serving, and succeeds once the certificate follows.
        try Self.writeAtomically(try key.pem(), to: files.keyFile, mode: 0o600)
        try Self.writeAtomically(try certificate.pem(), to: files.certificateFile, mode: 0o644)
    }

    /// Runs `body` holding an exclusive lock on the folder's `.lock` file.
    private static func whileLocked<T>(
        _ folder: String,
        _ body: () throws(TLSError) -> T
    ) throws(TLSError) -> T {
        let path = "\(folder)/.lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw Self.systemError("cannot open \(path)", call: "open")
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw Self.systemError("cannot lock \(path)", call: "flock")
            }
        }
        return try body()
    }
}
