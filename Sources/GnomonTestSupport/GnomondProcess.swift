import Foundation
import Glibc
public import GnomonStore

/// A real `gnomond` process for tests: started from the built binary, read through its logs.
public final class GnomondProcess: Sendable {
    /// Raised when the process does not do what a test waits for in time.
    public struct Timeout: Error, CustomStringConvertible {
        public var description: String
    }

    /// The running child.
    public let child: ChildProcess
    private let output: OutputCapture
    private let errors: OutputCapture

    /// Starts `gnomond` with JSON logs and no `GNOMON_*` variables but those given.
    ///
    /// - Parameters:
    ///   - executable: The binary to run; ``builtExecutable()`` by default.
    ///   - arguments: Its arguments.
    ///   - environment: `GNOMON_*` variables and others to add.
    ///   - directory: Its working directory.
    ///   - user: Run as this uid and gid through `setpriv`; only when the tests run as root.
    public init(
        executable: String = GnomondProcess.builtExecutable(),
        arguments: [String] = [],
        environment: [String: String] = [:],
        directory: String,
        user: (uid: UInt32, gid: UInt32)? = nil
    ) throws {
        var childEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GNOMON_") }
        childEnvironment["GNOMON_LOG_FORMAT"] = "json"
        // Tests run several servers at once: each listens on a port of its own.
        childEnvironment["GNOMON_LISTEN"] = "127.0.0.1:0"
        childEnvironment.merge(environment) { _, new in new }
        var words = [executable] + arguments
        if let user {
            words = ["/usr/bin/setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups", "--"] + words
        }
        self.output = try OutputCapture()
        self.errors = try OutputCapture()
        self.child = try ChildProcess.spawn(
            words,
            environment: childEnvironment,
            directory: directory,
            standardOutput: self.output.descriptor,
            standardError: self.errors.descriptor
        )
    }

    /// The `gnomond` built beside the running test bundle.
    public static func builtExecutable() -> String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = bundle.deletingLastPathComponent()
        // The test bundle may be a folder (`….xctest/…`) or a single executable.
        while folder.pathExtension == "xctest" || folder.lastPathComponent == "Contents" {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent("gnomond").path
    }

    /// What the process wrote to standard output so far.
    public var standardOutput: String { self.output.contents() }

    /// What the process wrote to standard error so far.
    public var standardError: String { self.errors.contents() }

    /// The JSON log records written so far, each as its string fields.
    public var logRecords: [[String: String]] {
        self.standardError.split(separator: "\n").compactMap { line in
            guard let data = line.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else {
                return nil
            }
            return object.compactMapValues { $0 as? String }
        }
    }

    /// Waits until a log record with `message` appears and returns it.
    ///
    /// - Throws: ``Timeout`` naming what was logged instead, when it does not appear in time or
    ///   the process exits first.
    public func waitForLog(_ message: String, timeout: Duration = .seconds(60)) async throws -> [String: String] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let record = self.logRecords.first(where: { $0["message"] == message }) {
                return record
            }
            if self.hasExited {
                let status = try await self.waitForExit(timeout: .seconds(5))
                throw Timeout(
                    description: "gnomond exited with status \(status) before it logged '\(message)'; it wrote:\n"
                        + self.standardError)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Timeout(
            description: "gnomond did not log '\(message)' within \(timeout); it wrote:\n\(self.standardError)")
    }

    /// Whether the process has ended: gone, or a zombie that nobody has waited for yet.
    private var hasExited: Bool {
        let pid = self.child.pid
        guard kill(pid, 0) == 0 else {
            return true
        }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let nameEnd = stat.lastIndex(of: ")")
        else {
            return false
        }
        return stat[nameEnd...].dropFirst(2).first == "Z"
    }

    /// Waits for the process to exit and returns its status, killing it if it takes too long.
    public func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let child = self.child
        return try await withThrowingTaskGroup(of: Int32?.self) { group in
            group.addTask { await child.waitForExit() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()!
            guard let status = first else {
                child.send(SIGKILL)
                _ = try await group.next()
                throw Timeout(description: "gnomond did not exit within \(timeout); it wrote:\n\(self.standardError)")
            }
            group.cancelAll()
            return status
        }
    }
}
