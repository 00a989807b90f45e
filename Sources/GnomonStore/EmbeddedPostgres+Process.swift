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
/// Children are spawned through ``ChildProcess``, which says why Foundation's `Process` is not.
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
        return capture.finish(status: await capture.child.waitForExit())
    }

    /// Runs a program to completion, blocking the calling thread; for synchronous callers only.
    func runBlocking(_ executable: String, _ arguments: [String]) throws -> CommandOutput {
        let capture = try self.spawn(executable, arguments)
        return capture.finish(status: capture.child.waitForExitBlocking())
    }

    private func spawn(_ executable: String, _ arguments: [String]) throws -> CapturedChild {
        let output = try OutputCapture()
        let error = try OutputCapture()
        let child = try ChildProcess.spawn(
            self.userSwitch + [executable] + arguments,
            environment: self.environment,
            standardOutput: output.descriptor,
            standardError: error.descriptor
        )
        return CapturedChild(child: child, output: output, error: error)
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
    var child: ChildProcess
    var output: OutputCapture
    var error: OutputCapture

    func finish(status: Int32) -> CommandOutput {
        CommandOutput(status: status, standardOutput: self.output.contents(), standardError: self.error.contents())
    }
}
