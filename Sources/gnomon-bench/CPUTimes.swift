import Foundation
import Glibc

/// CPU time used so far by the server, by PostgreSQL and by this process, read from `/proc`.
///
/// PostgreSQL's time is that of the postmaster and of each of its live children, kept per
/// process, plus what the postmaster has reaped (its `cutime` and `cstime`). A backend that
/// exits adds its whole life's time to the reaped total at once, so ``usage(since:over:)``
/// takes off what such a backend had already used at the earlier reading: a phase counts only
/// what was used within it.
struct CPUTimes: Sendable {
    /// Clock ticks of `gnomond` and its reaped children.
    var serverTicks: Int
    /// Clock ticks of this process.
    var clientTicks: Int
    /// Clock ticks of the postmaster itself and of the children it reaped.
    var postmasterTicks: Int
    /// Clock ticks of each live child of the postmaster, by process id.
    var backendTicks: [Int32: Int]

    /// Reads the three parties' times now; a process that is gone counts as zero.
    ///
    /// - Parameters:
    ///   - serverPID: The `gnomond` process.
    ///   - postmasterPID: PostgreSQL's postmaster.
    static func read(serverPID: Int32, postmasterPID: Int32) -> CPUTimes {
        var backends: [Int32: Int] = [:]
        for pid in Self.children(of: postmasterPID) {
            backends[pid] = Self.ticks(of: pid, includingReaped: false)
        }
        return CPUTimes(
            serverTicks: Self.ticks(of: serverPID, includingReaped: true),
            clientTicks: Self.ticks(of: getpid(), includingReaped: false),
            postmasterTicks: Self.ticks(of: postmasterPID, includingReaped: true),
            backendTicks: backends
        )
    }

    /// The cores each party used between `earlier` and now, in that order: server, PostgreSQL, client.
    ///
    /// - Parameters:
    ///   - earlier: The times at the start.
    ///   - elapsed: How long passed between the two readings.
    func cores(since earlier: CPUTimes, over elapsed: Duration) -> (server: Double, postgres: Double, client: Double) {
        let seconds = max(elapsed.seconds, 1e-9)
        // Backends gone since the earlier reading were reaped: their time so far is in the
        // reaped total now, and the part used before `earlier` must not count.
        let exitedBefore = earlier.backendTicks.filter { self.backendTicks[$0.key] == nil }.values.reduce(0, +)
        let live = self.backendTicks.reduce(0) { total, entry in
            total + entry.value - (earlier.backendTicks[entry.key] ?? 0)
        }
        let postgres = self.postmasterTicks - earlier.postmasterTicks - exitedBefore + live
        return (
            Self.seconds(ticks: self.serverTicks - earlier.serverTicks) / seconds,
            Self.seconds(ticks: postgres) / seconds,
            Self.seconds(ticks: self.clientTicks - earlier.clientTicks) / seconds
        )
    }

    /// The cores each used between `earlier` and now, as the report writes it.
    ///
    /// - Parameters:
    ///   - earlier: The times at the start.
    ///   - elapsed: How long passed between the two readings.
    func usage(since earlier: CPUTimes, over elapsed: Duration) -> String {
        let cores = self.cores(since: earlier, over: elapsed)
        return String(
            format: "CPU in cores: gnomond %.2f, PostgreSQL %.2f, benchmark client %.2f",
            cores.server, cores.postgres, cores.client
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

    private static func seconds(ticks: Int) -> Double {
        Double(ticks) / Double(max(sysconf(Int32(_SC_CLK_TCK)), 1))
    }
}
