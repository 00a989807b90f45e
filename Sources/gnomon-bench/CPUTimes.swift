import Foundation
import Glibc

/// CPU time used so far by the server, by PostgreSQL and by this process, read from `/proc`.
///
/// PostgreSQL's time is the postmaster's, its live children's, and that of the children it
/// has reaped (its `cutime` and `cstime`), so that backends and autovacuum workers that exit
/// within a run are still counted.
struct CPUTimes: Sendable {
    var server: Duration
    var postgres: Duration
    var client: Duration

    /// Reads the three processes' times now; a process that is gone counts as zero.
    ///
    /// - Parameters:
    ///   - serverPID: The `gnomond` process.
    ///   - postmasterPID: PostgreSQL's postmaster.
    static func read(serverPID: Int32, postmasterPID: Int32) -> CPUTimes {
        var postgres = Self.ticks(of: postmasterPID, includingReaped: true)
        for pid in Self.children(of: postmasterPID) {
            postgres += Self.ticks(of: pid, includingReaped: false)
        }
        return CPUTimes(
            server: Self.duration(ticks: Self.ticks(of: serverPID, includingReaped: true)),
            postgres: Self.duration(ticks: postgres),
            client: Self.duration(ticks: Self.ticks(of: getpid(), includingReaped: false))
        )
    }

    /// The cores each used between `earlier` and now, as the report writes it.
    ///
    /// - Parameters:
    ///   - earlier: The times at the start.
    ///   - elapsed: How long passed between the two readings.
    func usage(since earlier: CPUTimes, over elapsed: Duration) -> String {
        let seconds = max(elapsed.seconds, 1e-9)
        return String(
            format: "CPU in cores: gnomond %.2f, PostgreSQL %.2f, benchmark client %.2f",
            (self.server - earlier.server).seconds / seconds,
            (self.postgres - earlier.postgres).seconds / seconds,
            (self.client - earlier.client).seconds / seconds
        )
    }

    /// The postmaster's process id, from the first line of `postmaster.pid` in its data folder.
    ///
    /// - Throws: ``BenchError`` when the file is missing or unreadable.
    static func postmasterPID(dataDirectory: String) throws -> Int32 {
        let path = dataDirectory + "/postmaster.pid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let first = text.split(separator: "\n").first, let pid = Int32(first)
        else {
            throw BenchError("could not read PostgreSQL's process id from \(path)")
        }
        return pid
    }

    /// User and system ticks of `pid`, plus those of its reaped children when asked.
    private static func ticks(of pid: Int32, includingReaped: Bool) -> Int {
        guard let fields = Self.statFields(of: pid), fields.count > 14 else {
            return 0
        }
        // After the name: utime, stime, cutime and cstime are fields 14 to 17 of the whole line.
        let own = (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
        return own + (includingReaped ? (Int(fields[13]) ?? 0) + (Int(fields[14]) ?? 0) : 0)
    }

    /// The live processes whose parent is `parent`.
    private static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            // After the name, the state is field 3 and the parent's id field 4.
            Self.statFields(of: pid).map { $0.count > 1 && Int32($0[1]) == parent } ?? false
        }
    }

    /// The fields of `/proc/<pid>/stat` after the command name, which may hold spaces.
    private static func statFields(of pid: Int32) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else {
            return nil
        }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    private static func duration(ticks: Int) -> Duration {
        .seconds(Double(ticks) / Double(max(sysconf(Int32(_SC_CLK_TCK)), 1)))
    }
}
