import Glibc
import Synchronization

/// The current ``TLSContext`` of a server or client, rebuilt from its files on request.
///
/// A rebuilt context replaces the current one atomically: connections made afterwards use the
/// new certificate, and connections made before keep the context they started with. A rebuild
/// that fails leaves the current context in place.
final class TLSContextReloader: Sendable {
    private struct State {
        var context: TLSContext
        /// The files as they were when `context` was built.
        var loaded: [FileFingerprint]
        /// The files as they were when a rebuild last failed, not to be tried again unchanged.
        var failed: [FileFingerprint]?
    }

    let role: TLSContext.Role
    let configuration: TLSConfiguration
    private let state: Mutex<State>
    /// Held while rebuilding, so that two reloads cannot swap their contexts out of order.
    private let rebuilding = Mutex(())

    init(role: TLSContext.Role, configuration: TLSConfiguration) throws(TLSError) {
        self.role = role
        self.configuration = configuration
        let fingerprints = configuration.files.map(FileFingerprint.init(path:))
        let context = try TLSContext(role: role, configuration: configuration)
        self.state = Mutex(State(context: context, loaded: fingerprints, failed: nil))
    }

    /// The context new connections are made from.
    var current: TLSContext {
        self.state.withLock { $0.context }
    }

    /// Rebuilds the context from the files, and uses it for new connections.
    func reload() throws(TLSError) {
        try self.rebuilding.withLock { _ throws(TLSError) in
            try self.rebuild(self.configuration.files.map(FileFingerprint.init(path:)))
        }
    }

    /// Rebuilds the context if a file was replaced, written to or removed since it was built.
    ///
    /// Files that failed to load are not tried again until they change once more.
    ///
    /// - Returns: Whether a new context is in use.
    func reloadIfChanged() throws(TLSError) -> Bool {
        try self.rebuilding.withLock { _ throws(TLSError) in
            let fingerprints = self.configuration.files.map(FileFingerprint.init(path:))
            let unchanged = self.state.withLock { $0.loaded == fingerprints || $0.failed == fingerprints }
            if unchanged {
                return false
            }
            try self.rebuild(fingerprints)
            return true
        }
    }

    /// Builds a context from files whose fingerprints were taken first, so that a file
    /// changing while it is read shows as a change at the next check.
    private func rebuild(_ fingerprints: [FileFingerprint]) throws(TLSError) {
        do {
            let context = try TLSContext(role: self.role, configuration: self.configuration)
            self.state.withLock { $0 = State(context: context, loaded: fingerprints, failed: nil) }
        } catch {
            self.state.withLock { $0.failed = fingerprints }
            throw error
        }
    }
}

/// What identifies one version of a file: where it is stored, its size and its modification time.
struct FileFingerprint: Hashable, Sendable {
    var device: UInt64 = 0
    var inode: UInt64 = 0
    var size: Int64 = 0
    var modifiedSeconds: Int = 0
    var modifiedNanoseconds: Int = 0
    /// The error of `stat`, when the file could not be examined.
    var error: Int32 = 0

    init(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            self.error = errno
            return
        }
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
        self.size = Int64(info.st_size)
        self.modifiedSeconds = info.st_mtim.tv_sec
        self.modifiedNanoseconds = info.st_mtim.tv_nsec
    }
}
