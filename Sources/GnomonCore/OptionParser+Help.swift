extension OptionParser {
    /// The widest the column of option names grows before help moves to the next line.
    private static let maximumLabelColumn = 40

    /// Renders the help text: usage, purpose, options and examples, wrapped to a width.
    ///
    /// Every option is listed with its value name, help, default and environment variable, its
    /// help aligned in one column.
    ///
    /// - Parameter width: The widest a line may be.
    /// - Returns: The text, ending with a newline.
    public func helpText(width: Int = 100) -> String {
        var lines = HelpLayout.wrap(["Usage:"] + HelpLayout.words(self.usage), width: width, indent: 0)
        lines += [""] + HelpLayout.wrap(HelpLayout.words(self.purpose), width: width, indent: 0)
        lines += ["", "Options:"] + self.optionLines(width: width)
        if !self.examples.isEmpty {
            lines += ["", "Examples:"] + self.exampleLines(width: width)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func optionLines(width: Int) -> [String] {
        let labels = self.options.map(Self.label)
        let column = min((labels.map(\.count).max() ?? 0) + 4, Self.maximumLabelColumn)
        let entries = zip(self.options, labels).map { option, label in
            Self.lines(for: option, label: label, column: column, width: width)
        }
        // Entries of several lines are told apart by a blank line; one-line entries need none.
        let separator = entries.contains { $0.count > 1 } ? [""] : []
        return Array(entries.joined(separator: separator))
    }

    private func exampleLines(width: Int) -> [String] {
        let entries = self.examples.map { example in
            let summary = HelpLayout.wrap(HelpLayout.words(example.summary), width: width, indent: 2)
            return summary + HelpLayout.wrapCommand(example.command, width: width, indent: 4)
        }
        return Array(entries.joined(separator: [""]))
    }

    /// The option as listed: `-h, --help` or `    --data-dir PATH`.
    private static func label(_ option: Option) -> String {
        var label = option.shortName.map { "-\($0), " } ?? "    "
        label += option.longFlag
        if case .value(let valueName) = option.kind {
            label += " " + valueName
        }
        return label
    }

    private static func lines(for option: Option, label: String, column: Int, width: Int) -> [String] {
        let head = "  " + label
        let chunks = HelpLayout.words(option.help) + Self.annotations(option)
        let body = HelpLayout.wrap(chunks, width: width, indent: column)
        guard head.count + 2 <= column, let first = body.first else {
            return [head] + body
        }
        let padding = String(repeating: " ", count: column - head.count)
        return [head + padding + first.drop { $0 == " " }] + body.dropFirst()
    }

    /// The default and environment variable, each kept whole on one line.
    private static func annotations(_ option: Option) -> [String] {
        var annotations: [String] = []
        if let shown = option.defaultDescription ?? option.defaultValue, !shown.isEmpty {
            annotations.append("[default: \(shown)]")
        }
        if let variable = option.environmentVariable {
            annotations.append("[env: \(variable)]")
        }
        return annotations
    }
}

/// Fills lines of help text with words.
enum HelpLayout {
    /// Splits text into words at spaces.
    static func words(_ text: String) -> [String] {
        text.split(separator: " ").map(String.init)
    }

    /// Fills lines no wider than `width` with chunks, each line starting with `indent` spaces.
    ///
    /// A chunk is never broken unless it is wider than a whole line.
    static func wrap(_ chunks: [String], width: Int, indent: Int) -> [String] {
        let room = max(width - indent, 1)
        var lines: [String] = []
        var line = ""
        for chunk in chunks.flatMap({ Self.pieces(of: $0, room: room) }) {
            if !line.isEmpty, line.count + 1 + chunk.count > room {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? chunk : " " + chunk
        }
        lines.append(line)
        let margin = String(repeating: " ", count: indent)
        return lines.map { margin + $0 }
    }

    /// Fills lines with a shell command, ending every line but the last with a backslash.
    static func wrapCommand(_ command: String, width: Int, indent: Int) -> [String] {
        let lines = Self.wrap(Self.words(command), width: width - 2, indent: indent)
        return lines.enumerated().map { index, line in
            index == lines.count - 1 ? line : line + " \\"
        }
    }

    private static func pieces(of chunk: String, room: Int) -> [String] {
        guard chunk.count > room else {
            return [chunk]
        }
        return stride(from: 0, to: chunk.count, by: room).map { start in
            String(chunk.dropFirst(start).prefix(room))
        }
    }
}
