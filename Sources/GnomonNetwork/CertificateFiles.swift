import Glibc

/// Where a certificate, its private key and the authority that issued it are stored, as PEM.
public struct CertificateFiles: Sendable, Hashable {
    /// The certificate of the authority that issued ``certificateFile``.
    public var caFile: String
    /// The certificate.
    public var certificateFile: String
    /// The certificate's private key, readable by its owner only.
    public var keyFile: String

    /// Names the three files.
    public init(caFile: String, certificateFile: String, keyFile: String) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Writes a file whole or not at all: to a temporary file first, then renamed over `path`,
    /// so a server reloading at that moment reads the old file or the new one.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws(TLSError) {
        let temporary = "\(path).\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw Self.systemError("cannot create \(temporary)", call: "open")
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR {
                continue
            }
            guard written > 0 else {
                let error = Self.systemError("cannot write \(temporary)", call: "write")
                close(descriptor)
                unlink(temporary)
                throw error
            }
            offset += written
        }
        // fchmod too, because open's mode is narrowed by the umask but never widened to it.
        guard fchmod(descriptor, mode) == 0, fsync(descriptor) == 0, close(descriptor) == 0 else {
            let error = Self.systemError("cannot finish writing \(temporary)", call: "fsync")
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = Self.systemError("cannot rename \(temporary) to \(path)", call: "rename")
            unlink(temporary)
            throw error
        }
    }

    /// Creates a folder and its parents, each readable by its owner only when created here.
    static func makeFolder(_ path: String) throws(TLSError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw Self.systemError("cannot create the folder \(current)", call: "mkdir")
            }
        }
    }

    static func systemError(_ summary: String, call: String) -> TLSError {
        TLSError(.certificateGenerationFailed, "\(summary): \(String(cString: strerror(errno)))", function: call)
    }
}
