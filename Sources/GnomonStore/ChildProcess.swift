import CGnomonShims
import Foundation
import Glibc

/// A child process started with `posix_spawn` and awaited with `waitpid`.
///
/// Foundation's `Process` is not used: on Linux it learns of a child's exit from a socket the
/// child inherits, and a daemon the child leaves behind (the server `pg_ctl start` starts)
/// inherits it too, so the exit would never be noticed (swift-corelibs-foundation issue 4795).
/// A child spawned here inherits nothing but its standard streams, and is awaited by a thread
/// of its own, never by a thread of Swift's cooperative pool.
public struct ChildProcess: Sendable {
    /// The child's process id.
    public let pid: Int32

    /// Starts `words[0]` with the rest as arguments and standard input from /dev/null.
    ///
    /// - Parameters:
    ///   - words: The executable's absolute path, then its arguments.
    ///   - environment: The child's whole environment.
    ///   - directory: The child's working directory.
    ///   - standardOutput: The descriptor the child's standard output is written to.
    ///   - standardError: The descriptor the child's standard error is written to.
    /// - Throws: ``StoreError`` with code `startFailed` when the program cannot be started.
    public static func spawn(
        _ words: [String],
        environment: [String: String],
        directory: String = "/",
        standardOutput: Int32,
        standardError: Int32
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, standardOutput, 1)
        posix_spawn_file_actions_adddup2(&actions, standardError, 2)
        gnomon_spawn_file_actions_addchdir(&actions, directory)
        // Nothing else is inherited: a descriptor kept open by a daemon could stall its owner.
        gnomon_spawn_file_actions_addclosefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        Self.resetSignals(&attributes)
        let pid = try Self.spawn(words, environment: environment, actions: &actions, attributes: &attributes)
        return ChildProcess(pid: pid)
    }

    /// Sends `signal` to the child; a child that already exited is not an error.
    public func send(_ signal: Int32) {
        _ = kill(self.pid, signal)
    }

    /// Waits on a dedicated thread for the child to exit.
    ///
    /// - Returns: Its exit status, or 128 plus the signal that killed it.
    public func waitForExit() async -> Int32 {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: Self.waitBlocking(pid)) }
            thread.name = "gnomon-child-wait"
            thread.start()
        }
    }

    /// Waits for the child to exit, blocking the calling thread; for synchronous callers only.
    public func waitForExitBlocking() -> Int32 {
        Self.waitBlocking(self.pid)
    }

    private static func waitBlocking(_ pid: Int32) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                return -1
            }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Gives the child an empty signal mask and default handlers, whatever this thread had.
    private static func resetSignals(_ attributes: inout posix_spawnattr_t) {
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    }

    private static func spawn(
        _ words: [String],
        environment: [String: String],
        actions: inout posix_spawn_file_actions_t,
        attributes: inout posix_spawnattr_t
    ) throws -> Int32 {
        let argv = words.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for word in argv + envp {
                free(word)
            }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, words[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            let reason = String(cString: strerror(result))
            throw StoreError(.startFailed, "could not run \(words[0]): \(reason)")
        }
        return pid
    }
}

/// An unlinked temporary file that a child writes its output to, readable while it runs.
///
/// A file rather than a pipe, because a daemon the child leaves behind could keep a pipe open
/// and a reader would wait for its end forever. Unlinked, so nothing is left after a crash;
/// opened for appending and read with `pread`, so reading never moves the child's position.
public final class OutputCapture: Sendable {
    /// The descriptor to hand to ``ChildProcess/spawn(_:environment:directory:standardOutput:standardError:)``.
    public let descriptor: Int32

    /// Creates the file in /tmp.
    ///
    /// - Throws: ``StoreError`` when /tmp is not writable.
    public init() throws {
        var template = Array("/tmp/gnomon-output-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw StoreError(.permissionDenied, "could not create a temporary file in /tmp: errno \(errno)")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        _ = fcntl(descriptor, F_SETFL, O_APPEND)
        self.descriptor = descriptor
    }

    deinit {
        close(self.descriptor)
    }

    /// Everything written so far, decoded as UTF-8.
    public func contents() -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let offset = off_t(bytes.count)
            let count = chunk.withUnsafeMutableBytes { pread(self.descriptor, $0.baseAddress, $0.count, offset) }
            if count < 0 && errno == EINTR {
                continue
            }
            guard count > 0 else {
                break
            }
            bytes += chunk.prefix(count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
