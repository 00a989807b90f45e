/// A parser for a program's options, driven by a table of declarations.
///
/// Each option is declared once, with its help, default and environment variable. A value
/// comes from the command line first, then from the environment, then from the default.
/// Options are written `--name value`, `--name=value`, `-x value` or `-x=value`; `--` ends the
/// options, and everything else is collected as positional arguments. `--help`, `-h` and
/// `--version` are returned as requests for the caller to answer.
///
/// The parser does no I/O: it is handed the arguments and the environment, and returns values
/// for the caller to convert with the typed helpers of ``Values``.
public struct OptionParser: Sendable {
    /// What a command line asks for.
    public enum Outcome: Sendable, Equatable {
        /// Run with these values.
        case parsed(Values)

        /// Print the help text and exit successfully.
        case helpRequested

        /// Print the version and exit successfully.
        case versionRequested
    }

    /// The program and command, such as `gnomond` or `gnomon job list`, as used in messages.
    public var commandName: String

    /// The usage line without `Usage:`, such as `gnomond [options]`.
    public var usage: String

    /// What the program is for, in one line.
    public var purpose: String

    /// Every option accepted, the standard `--help` and `--version` included.
    public private(set) var options: [Option]

    /// Sample commands shown at the end of the help text.
    public var examples: [Example]

    /// Whether the first positional argument ends the options, as for a command's noun.
    ///
    /// When true, `gnomon --server x job list --all` yields `job list --all` as positional
    /// arguments, for the parser of `job list` to read.
    public var stopsAtFirstPositional: Bool

    /// Creates a parser.
    ///
    /// - Parameters:
    ///   - commandName: The program and command, as used in messages.
    ///   - usage: The usage line; by default `<commandName> [options]`.
    ///   - purpose: What the program is for, in one line.
    ///   - options: The options accepted, besides `--help` and `--version`, whose names are
    ///     reserved.
    ///   - examples: Sample commands for the help text.
    ///   - includesVersionOption: Whether `--version` is accepted.
    ///   - stopsAtFirstPositional: Whether the first positional argument ends the options.
    public init(
        commandName: String,
        usage: String? = nil,
        purpose: String,
        options: [Option],
        examples: [Example] = [],
        includesVersionOption: Bool = true,
        stopsAtFirstPositional: Bool = false
    ) {
        self.commandName = commandName
        self.usage = usage ?? "\(commandName) [options]"
        self.purpose = purpose
        self.options = options + Self.standardOptions(includingVersion: includesVersionOption)
        self.examples = examples
        self.stopsAtFirstPositional = stopsAtFirstPositional
        Self.checkDeclarations(self.options)
    }

    /// Reads a command line and the environment.
    ///
    /// A request for help or the version wins over any mistake elsewhere on the command line.
    ///
    /// - Parameters:
    ///   - arguments: The arguments without the program's name.
    ///   - environment: The process environment; empty variables count as unset.
    /// - Returns: The values to run with, or a request for help or the version.
    /// - Throws: ``UsageError`` for the first mistake on the command line, or for a flag's
    ///   environment variable that is not a boolean.
    public func parse(_ arguments: [String], environment: [String: String]) throws(UsageError) -> Outcome {
        let scan = self.scan(arguments)
        if let request = scan.request {
            return request
        }
        if let error = scan.firstError {
            throw error
        }
        return .parsed(try self.resolve(scan, environment: environment))
    }

    /// Returns the declared option with a long name, or `nil` when none has it.
    ///
    /// - Parameter name: The long name without dashes.
    public func option(named name: String) -> Option? {
        self.options.first { $0.name == name }
    }
}

extension OptionParser {
    /// What a pass over the command line found.
    struct Scan {
        var given: [String: [String]] = [:]
        var positionals: [String] = []
        var request: Outcome?
        var firstError: UsageError?
    }

    private func scan(_ arguments: [String]) -> Scan {
        var scan = Scan()
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            if argument == "--" {
                scan.positionals += remaining
                break
            }
            guard Self.isOptionLike(argument) else {
                scan.positionals.append(argument)
                if self.stopsAtFirstPositional {
                    scan.positionals += remaining
                    break
                }
                continue
            }
            do {
                try self.read(argument, from: &remaining, into: &scan)
            } catch {
                // Reading goes on so that a later --help is still honoured.
                scan.firstError = scan.firstError ?? error
            }
        }
        return scan
    }

    private func read(
        _ argument: String,
        from remaining: inout ArraySlice<String>,
        into scan: inout Scan
    ) throws(UsageError) {
        let (spelling, attached) = Self.splitAttachedValue(argument)
        guard let option = self.option(spelled: spelling) else {
            throw self.unknownOption(spelling)
        }
        if let request = Self.request(for: option) {
            scan.request = scan.request ?? request
            return
        }
        let value = try self.commandLineValue(of: option, attached: attached, remaining: &remaining)
        scan.given[option.name, default: []].append(value)
    }

    private func commandLineValue(
        of option: Option,
        attached: String?,
        remaining: inout ArraySlice<String>
    ) throws(UsageError) -> String {
        switch option.kind {
        case .flag:
            guard let attached else {
                return "true"
            }
            guard let isOn = Self.booleanValue(attached) else {
                throw Self.invalidValue(
                    "option '\(option.longFlag)' expects no value or one of \(Self.booleanWords), got '\(attached)'",
                    option: option
                )
            }
            return String(isOn)

        case .value:
            if let attached {
                return attached
            }
            // A value that starts with a dash must be attached with '=', so that a forgotten
            // value does not silently swallow the next option.
            guard let next = remaining.first, !Self.isOptionLike(next) else {
                var message = "option '\(option.longFlag)' needs a value"
                if let next = remaining.first, next != "--",
                    self.option(spelled: Self.splitAttachedValue(next).spelling) == nil
                {
                    // Not an option of this program: most likely a value that starts with '-'.
                    message += "; a value that starts with '-' must be attached: \(option.longFlag)=\(next)"
                }
                throw UsageError(code: .missingValue, message: message, option: option.longFlag)
            }
            remaining.removeFirst()
            return next
        }
    }

    private func option(spelled spelling: String) -> Option? {
        if spelling.hasPrefix("--") {
            return self.option(named: String(spelling.dropFirst(2)))
        }
        guard spelling.count == 2 else {
            return nil
        }
        return self.options.first { $0.shortName == spelling.last }
    }

    private static func splitAttachedValue(_ argument: String) -> (spelling: String, attached: String?) {
        guard let equals = argument.firstIndex(of: "=") else {
            return (argument, nil)
        }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    /// Whether an argument is an option rather than a value: `-` alone and `-5` are values.
    private static func isOptionLike(_ argument: String) -> Bool {
        guard argument.hasPrefix("-"), let second = argument.dropFirst().first else {
            return false
        }
        return !(second.isASCII && (second.isNumber || second == "."))
    }
}

extension OptionParser {
    static let booleanWords = "1, 0, true, false, yes, no"

    static func booleanValue(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: return nil
        }
    }

    static func invalidValue(_ message: String, option: Option) -> UsageError {
        UsageError(code: .invalidValue, message: message, option: option.longFlag)
    }

    private static func standardOptions(includingVersion: Bool) -> [Option] {
        let help = Option.flag("help", short: "h", help: "Show this help and exit.")
        let version = Option.flag("version", help: "Show the version and exit.")
        return includingVersion ? [help, version] : [help]
    }

    /// The request a standard option makes, or `nil` for an ordinary option.
    static func request(for option: Option) -> Outcome? {
        switch option.name {
        case "help": return .helpRequested
        case "version": return .versionRequested
        default: return nil
        }
    }

    private static func checkDeclarations(_ options: [Option]) {
        let names = options.map(\.name)
        precondition(Set(names).count == names.count, "an option name is declared twice in \(names)")
        let shortNames = options.compactMap(\.shortName)
        precondition(Set(shortNames).count == shortNames.count, "a short name is declared twice in \(shortNames)")
        precondition(names.allSatisfy { !$0.hasPrefix("-") && !$0.contains("=") }, "declare names without dashes")
    }
}
