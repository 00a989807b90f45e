import Foundation
import Glibc

/// The exit status and output of a finished command.
struct CommandOutput: Sendable {
    var status: Int32
    var standardOutput: String
    var standardError: String

    /// Throws unless the command exited with status 0, quoting the end of what it printed.
    func check(_ code: StoreError.Code, _ what: String) throws {
        guard self.status != 0 else {
            return
        }
        let printed = self.standardError.isEmpty ? self.standardOutput : self.standardError
        throw StoreError(code, "\(what) failed with exit status \(self.status): \(Self.tail(printed))")
    }

    /// The last `limit` characters of `text`, where the reason for a failure usually is.
    static func tail(_ text: String, limit: Int = 2_000) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count > limit else {
            return trimmed.isEmpty ? "(no output)" : trimmed
        }
        return "..." + trimmed.suffix(limit)
    }
}

/// Runs PostgreSQL's programs, as this process's user or switched to the server's account.
///
/// Foundation's `Process` is not used: on Linux it learns of a child's exit from a socket the
/// child inherits, and the server `pg_ctl start` leaves behind inherits it too, so the exit of
/// `pg_ctl` would never be noticed (swift-corelibs-foundation issue 4795). Children are spawned
/// with every other descriptor closed and awaited by a thread of their own in `waitpid`, never
/// by a thread of Swift's cooperative pool.
struct CommandRunner: Sendable {
    /// The leading words that switch to another account; empty to run as this process's user.
    var userSwitch: [String]
    var environment: [String: String]

    /// A runner for this process's own user.
    static func current() -> CommandRunner {
        CommandRunner(userSwitch: [], environment: Self.cleanEnvironment())
    }

    /// A runner that runs every command as `account`, through `setpriv` or else `runuser`.
    static func switching(to account: ServerAccount) throws -> CommandRunner {
        var environment = Self.cleanEnvironment()
        environment["HOME"] = account.home
        let fileManager = FileManager.default
        if let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: fileManager.isExecutableFile) {
            let ids = ["--reuid=\(account.uid)", "--regid=\(account.gid)", "--init-groups"]
            return CommandRunner(userSwitch: [setpriv] + ids + ["--"], environment: environment)
        }
        if let runuser = ["/usr/sbin/runuser", "/sbin/runuser"].first(where: fileManager.isExecutableFile) {
            return CommandRunner(userSwitch: [runuser, "-u", account.name, "--"], environment: environment)
        }
        throw StoreError(
            .permissionDenied,
            "running as root, PostgreSQL must run as '\(account.name)', but neither setpriv nor runuser "
                + "(util-linux) was found; install util-linux or run as a non-root user"
        )
    }

    /// Runs a program to completion and returns its status and output.
    func run(_ executable: String, _ arguments: [String]) async throws -> CommandOutput {
        let capture = try self.spawn(executable, arguments)
        let pid = capture.pid
        let status = await Self.onDedicatedThread { ChildProcess.waitForExit(pid) }
        return capture.finish(status: status)
    }

    /// Runs a program to completion, blocking the calling thread; for synchronous callers only.
    func runBlocking(_ executable: String, _ arguments: [String]) throws -> CommandOutput {
        let capture = try self.spawn(executable, arguments)
        return capture.finish(status: ChildProcess.waitForExit(capture.pid))
    }

    private func spawn(_ executable: String, _ arguments: [String]) throws -> CapturedChild {
        let output = try CaptureFile()
        let error = try CaptureFile()
        let words = self.userSwitch + [executable] + arguments
        let pid = try ChildProcess.spawn(
            words,
            environment: self.environment,
            output: output.descriptor,
            error: error.descriptor
        )
        return CapturedChild(pid: pid, output: output, error: error)
    }

    private static func onDedicatedThread(_ work: @escaping @Sendable () -> Int32) async -> Int32 {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: work()) }
            thread.name = "gnomon-child-wait"
            thread.start()
        }
    }

    /// This process's environment without `PG*` variables, which would redirect the programs.
    private static func cleanEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
        environment["LC_ALL"] = "C"
        return environment
    }
}

/// A spawned child and the files its output goes to.
private struct CapturedChild {
    var pid: pid_t
    var output: CaptureFile
    var error: CaptureFile

    func finish(status: Int32) -> CommandOutput {
        CommandOutput(status: status, standardOutput: self.output.readAll(), standardError: self.error.readAll())
    }
}

/// An already unlinked temporary file that a child writes its output to.
///
/// A file rather than a pipe, because the server started by `pg_ctl` could keep a pipe open
/// and a reader would then wait for its end forever. Unlinked, so nothing is left after a crash.
private final class CaptureFile {
    let descriptor: Int32

    init() throws {
        var template = Array("/tmp/gnomon-command-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw StoreError(.permissionDenied, "could not create a temporary file in /tmp: errno \(errno)")
        }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.descriptor = descriptor
    }

    deinit {
        close(self.descriptor)
    }

    func readAll() -> String {
        guard lseek(self.descriptor, 0, SEEK_SET) == 0 else {
            return ""
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(self.descriptor, $0.baseAddress, $0.count) }
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

/// `posix_spawn` and `waitpid`, for children that inherit nothing but their output files.
enum ChildProcess {
    /// Starts `words[0]` with the rest as arguments, stdin from /dev/null and `/` as its directory.
    static func spawn(_ words: [String], environment: [String: String], output: Int32, error: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, error, 2)
        // The server's account may not be able to enter this process's working directory.
        _ = GNUSpawnActions.addChangeDirectory?(&actions, "/")
        // Nothing else is inherited: a descriptor kept open by the server could stall its owner.
        _ = GNUSpawnActions.addCloseFrom?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        Self.resetSignals(&attributes)
        return try Self.spawn(words, environment: environment, actions: &actions, attributes: &attributes)
    }

    /// Waits for a child to exit, retrying on EINTR; returns its status, or 128 + the killing signal.
    static func waitForExit(_ pid: pid_t) -> Int32 {
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
    ) throws -> pid_t {
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

/// The GNU extensions to `posix_spawn` file actions, which the Glibc module does not import.
///
/// They are looked up when first used, and are nil on a C library older than glibc 2.34.
private enum GNUSpawnActions {
    typealias ChangeDirectory =
        @convention(c) (
            UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>
        ) -> Int32
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static let addChangeDirectory: ChangeDirectory? = Self.lookUp("posix_spawn_file_actions_addchdir_np")
    static let addCloseFrom: CloseFrom? = Self.lookUp("posix_spawn_file_actions_addclosefrom_np")

    private static func lookUp<Function>(_ name: String) -> Function? {
        // A null handle is RTLD_DEFAULT: search every loaded library.
        guard let symbol = dlsym(nil, name) else {
            return nil
        }
        return unsafeBitCast(symbol, to: Function.self)
    }
}
