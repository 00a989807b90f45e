import Foundation

/// Figures measured in one run, printed as a Markdown table for docs/benchmarks.md.
final class BenchmarkReport {
    struct Row {
        var measure: String
        var value: String
        var note: String
    }

    /// A block of Markdown printed after the table, such as a query plan.
    struct Section {
        var heading: String
        var body: String
    }

    private let title: String
    private var rows: [Row] = []
    private var sections: [Section] = []

    init(title: String) {
        self.title = title
    }

    /// Adds a figure and prints it at once, so a long run shows progress.
    func add(_ measure: String, _ value: String, note: String = "") {
        self.rows.append(Row(measure: measure, value: value, note: note))
        FileHandle.standardError.write(Data("  \(measure): \(value) \(note)\n".utf8))
    }

    /// Adds a block of Markdown, printed after the table under a heading of its own.
    func addSection(_ heading: String, _ body: String) {
        self.sections.append(Section(heading: heading, body: body))
    }

    /// The report as Markdown: a heading, the machine, the date, one row per figure, then the
    /// sections.
    func markdown(machine: MachineInfo) -> String {
        let date = ISO8601DateFormatter().string(from: Date())
        var lines = [
            "## \(self.title)",
            "",
            "Measured \(date) on \(machine.summary).",
            "",
            "| measure | value | note |",
            "| --- | ---: | --- |",
        ]
        for row in self.rows {
            lines.append("| \(row.measure) | \(row.value) | \(row.note) |")
        }
        for section in self.sections {
            lines += ["", "### \(section.heading)", "", section.body.trimmingCharacters(in: .newlines)]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension BenchmarkReport {
    /// Prints a report to standard output and, when a file is named, appends it there too.
    ///
    /// - Throws: ``BenchError`` when the file cannot be opened.
    static func publish(_ markdown: String, to file: String?) throws {
        print(markdown, terminator: "")
        guard let file else {
            return
        }
        if !FileManager.default.fileExists(atPath: file) {
            _ = FileManager.default.createFile(atPath: file, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: file) else {
            throw BenchError("could not open \(file) to append the report")
        }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data(("\n" + markdown).utf8))
    }
}

/// Formats a rate such as `12,345/s`.
func formatRate(_ count: Int, per duration: Duration) -> String {
    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    return formatCount(Int((Double(count) / max(seconds, 1e-9)).rounded())) + "/s"
}

/// Formats a count with thousands separators, such as `1,000,000`.
func formatCount(_ count: Int) -> String {
    let digits = String(count)
    var out = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 {
            out.append(",")
        }
        out.append(character)
    }
    return out
}

/// Formats a duration in milliseconds with two decimals, such as `0.42 ms`.
func formatMilliseconds(_ duration: Duration) -> String {
    let milliseconds = Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
    return String(format: "%.2f ms", milliseconds)
}

/// Formats a short duration in microseconds below a millisecond, such as `42.1 µs`, and in
/// milliseconds from there, such as `2.30 ms`.
func formatLatency(_ duration: Duration) -> String {
    guard duration < .milliseconds(1) else {
        return formatMilliseconds(duration)
    }
    return String(format: "%.1f", duration.seconds * 1e6) + " µs"
}

/// Formats KiB as MiB with one decimal, such as `12.3 MiB`.
func formatMebibytes(_ kibibytes: Int) -> String {
    String(format: "%.1f MiB", Double(kibibytes) / 1_024)
}
