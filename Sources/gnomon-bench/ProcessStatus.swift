import Foundation
import Glibc

/// A process's resident memory, CPU time and open descriptors, read from `/proc`.
struct ProcessStatus: Sendable {
    /// Resident set size in KiB: `VmRSS` of `/proc/<pid>/status`.
    var residentKiB: Int
    /// User and system CPU time used so far.
    var cpuTime: Duration
    /// How many descriptors the process has open, sockets included.
    var openDescriptors: Int

    /// Reads the status of a process.
    ///
    /// - Parameter pid: The process; this one when `nil`.
    /// - Throws: ``BenchError`` when the process is gone or `/proc` reads unexpectedly.
    static func read(pid: Int32? = nil) throws -> ProcessStatus {
        let folder = "/proc/" + (pid.map(String.init) ?? "self")
        let status = try Self.contents(of: folder + "/status")
        let stat = try Self.contents(of: folder + "/stat")
        guard let resident = Self.residentKiB(status: status), let ticks = Self.cpuTicks(stat: stat) else {
            throw BenchError("\(folder)/status or \(folder)/stat is not in the format Linux writes")
        }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/fd").count) ?? 0
        let perSecond = max(sysconf(Int32(_SC_CLK_TCK)), 1)
        return ProcessStatus(
            residentKiB: resident,
            cpuTime: .seconds(Double(ticks) / Double(perSecond)),
            openDescriptors: descriptors
        )
    }

    /// The `VmRSS:` line's value, in KiB, of a `/proc/<pid>/status` text.
    static func residentKiB(status: String) -> Int? {
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
    }

    /// User plus system time, in clock ticks, of a `/proc/<pid>/stat` text.
    ///
    /// The command name in parentheses may hold spaces, so fields are counted after its `)`.
    static func cpuTicks(stat: String) -> Int? {
        guard let close = stat.lastIndex(of: ")") else {
            return nil
        }
        // After the name: state is field 3 of the whole line, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else {
            return nil
        }
        return user + system
    }

    private static func contents(of path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BenchError("could not read \(path): \(error)")
        }
    }
}
