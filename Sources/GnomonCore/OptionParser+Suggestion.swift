extension OptionParser {
    /// Makes the error for an unknown option, suggesting the declared one it most resembles.
    func unknownOption(_ spelling: String) -> UsageError {
        var message = "unknown option '\(spelling)'"
        if let suggestion = self.suggestion(for: spelling) {
            message += " (did you mean '\(suggestion)'?)"
        }
        message += "; run '\(self.commandName) --help' for the options"
        return UsageError(code: .unknownOption, message: message, option: spelling)
    }

    /// Returns the long flag the user most likely meant, or `nil` when no guess is obvious.
    ///
    /// A guess is obvious when the typed name, without dashes, is a declared name written with
    /// the wrong dashes or case, the start of exactly one declared name, or within a small edit
    /// distance of exactly one nearest declared name.
    func suggestion(for spelling: String) -> String? {
        let typed = String(spelling.drop { $0 == "-" }).lowercased()
        let names = self.options.map(\.name)
        guard typed.count > 1 else {
            return nil
        }
        if names.contains(typed) {
            return "--" + typed
        }
        let extensions = names.filter { $0.hasPrefix(typed) }
        if typed.count >= 3, extensions.count == 1 {
            return "--" + extensions[0]
        }
        return Self.nearestName(to: typed, among: names).map { "--" + $0 }
    }

    private static func nearestName(to typed: String, among names: [String]) -> String? {
        let distances = names.map { (name: $0, distance: EditDistance.between(typed, $0)) }
        guard let best = distances.min(by: { $0.distance < $1.distance }) else {
            return nil
        }
        let isUnique = distances.filter { $0.distance == best.distance }.count == 1
        let isClose = best.distance <= max(1, typed.count / 3)
        return isUnique && isClose ? best.name : nil
    }
}

/// How many single-character edits turn one word into another.
enum EditDistance {
    /// Counts insertions, deletions, substitutions and swaps of neighbours, each as one edit.
    ///
    /// Swapped neighbours count once, so `--data-dri` is one edit from `--data-dir`.
    static func between(_ source: String, _ target: String) -> Int {
        let source = Array(source)
        let target = Array(target)
        guard !source.isEmpty, !target.isEmpty else {
            return max(source.count, target.count)
        }
        var rows = [Array(0...target.count)]
        for i in 1...source.count {
            var row = [i] + Array(repeating: 0, count: target.count)
            for j in 1...target.count {
                row[j] = Self.cost(source, target, i, j, row: row, previousRows: rows)
            }
            rows.append(row)
        }
        return rows[source.count][target.count]
    }

    private static func cost(
        _ source: [Character],
        _ target: [Character],
        _ i: Int,
        _ j: Int,
        row: [Int],
        previousRows rows: [[Int]]
    ) -> Int {
        let above = rows[i - 1]
        let substitution = source[i - 1] == target[j - 1] ? 0 : 1
        var best = min(above[j] + 1, row[j - 1] + 1, above[j - 1] + substitution)
        let isSwap = i > 1 && j > 1 && source[i - 1] == target[j - 2] && source[i - 2] == target[j - 1]
        if isSwap {
            best = min(best, rows[i - 2][j - 2] + 1)
        }
        return best
    }
}
