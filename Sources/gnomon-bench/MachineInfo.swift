import Foundation

/// What a benchmark ran on, written beside its figures so they can be compared fairly.
struct MachineInfo {
    var processor: String
    var cores: Int
    var memoryGiB: Double
    var kernel: String
    var swiftVersion: String

    /// Reads the machine's description from /proc and uname.
    static func current() -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n")
            .first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown processor"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let kilobytes =
            meminfo.split(separator: "\n")
            .first { $0.hasPrefix("MemTotal:") }?
            .split(separator: " ").dropFirst().first
            .flatMap { Double($0) } ?? 0
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return MachineInfo(
            processor: model,
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryGiB: kilobytes / 1_048_576,
            kernel: "Linux \(release)",
            swiftVersion: Self.swiftVersion()
        )
    }

    /// One line for a report, such as `2 cores of Intel Xeon …, 23.4 GiB, Linux 6.1`.
    var summary: String {
        let memory = String(format: "%.1f", self.memoryGiB)
        return "\(self.cores) cores of \(self.processor), \(memory) GiB, \(self.kernel), \(self.swiftVersion)"
    }

    /// The machine's one-minute load average, from `/proc/loadavg`.
    static func loadAverage() -> Double {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").first.flatMap { Double($0) } ?? 0
    }

    private static func swiftVersion() -> String {
        #if compiler(>=6.3)
            return "Swift 6.3"
        #else
            return "Swift 6"
        #endif
    }
}
