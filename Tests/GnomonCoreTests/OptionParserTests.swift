import GnomonCore
import Testing

/// A parser with one option of each shape the typed helpers convert.
private let parser = OptionParser(
    commandName: "sample",
    purpose: "sample — a program that exists to exercise the option parser",
    options: [
        .value(
            "data-dir",
            short: "d",
            valueName: "PATH",
            default: ".data",
            environment: "SAMPLE_DATA_DIR",
            help: "Where data lives."
        ),
        .value("port", valueName: "PORT", environment: "SAMPLE_PORT", help: "A TCP port."),
        .value("timeout", valueName: "DURATION", default: "30s", environment: "SAMPLE_TIMEOUT", help: "How long."),
        .value("color", valueName: "COLOR", default: "red", environment: "SAMPLE_COLOR", help: "A color."),
        .value("listen", valueName: "HOST:PORT", default: "127.0.0.1:80", environment: "SAMPLE_LISTEN", help: "Where."),
        .value("label", valueName: "LABEL", help: "A label; may be repeated."),
        .flag("verbose", short: "v", environment: "SAMPLE_VERBOSE", help: "Say more."),
    ],
    examples: [OptionParser.Example("Run verbosely:", command: "sample --verbose")]
)

private func parse(_ arguments: [String], _ environment: [String: String] = [:]) throws -> OptionParser.Values {
    guard case .parsed(let values) = try parser.parse(arguments, environment: environment) else {
        throw UsageError(code: .unexpectedArgument, message: "expected values, got a request")
    }
    return values
}

/// Returns the usage error that parsing, then converting with `body`, throws.
private func usageError(
    _ arguments: [String],
    _ environment: [String: String] = [:],
    converting body: (OptionParser.Values) throws(UsageError) -> Void = { _ in }
) -> UsageError? {
    do {
        guard case .parsed(let values) = try parser.parse(arguments, environment: environment) else {
            return nil
        }
        try body(values)
        return nil
    } catch {
        return error
    }
}

@Suite("Option parser: reading the command line")
struct OptionParserReadingTests {
    @Test("reads a value after the option or attached with an equals sign")
    func valueSyntaxes() throws {
        #expect(try parse(["--data-dir", "/a"]).string("data-dir") == "/a")
        #expect(try parse(["--data-dir=/b"]).string("data-dir") == "/b")
        #expect(try parse(["--data-dir=x=y"]).string("data-dir") == "x=y")
        #expect(try parse(["-d", "/c"]).string("data-dir") == "/c")
        #expect(try parse(["-d=/e"]).string("data-dir") == "/e")
    }

    @Test("accepts a dash-led value only when attached, and negative numbers either way")
    func dashLedValues() throws {
        #expect(try parse(["--data-dir=-odd"]).string("data-dir") == "-odd")
        #expect(try parse(["--port", "-1"]).string("port") == "-1")
        #expect(try parse(["--port", "-0.5"]).string("port") == "-0.5")
        #expect(try parse(["--data-dir", "-"]).string("data-dir") == "-")
    }

    @Test("collects positional arguments, and everything after -- as positional")
    func positionals() throws {
        let values = try parse(["one", "--verbose", "two", "--", "--data-dir", "-v"])
        #expect(values.positionals == ["one", "two", "--data-dir", "-v"])
        #expect(values.isSet("verbose"))
        #expect(values.string("data-dir") == ".data")
    }

    @Test("stops at the first positional argument when asked to")
    func stopsAtFirstPositional() throws {
        var global = parser
        global.stopsAtFirstPositional = true
        let outcome = try global.parse(["-v", "job", "list", "--unknown", "--help"], environment: [:])
        guard case .parsed(let values) = outcome else {
            Issue.record("expected values, got \(outcome)")
            return
        }
        #expect(values.isSet("verbose"))
        #expect(values.positionals == ["job", "list", "--unknown", "--help"])
    }

    @Test("keeps the last of a repeated option and all of them on request")
    func repeatedOption() throws {
        let values = try parse(["--label", "a", "--label=b"])
        #expect(values.string("label") == "b")
        #expect(values.strings("label") == ["a", "b"])
        #expect(try parse([]).strings("label") == [])
        #expect(try parse([]).strings("data-dir") == [".data"])
    }

    @Test("returns --help, -h and --version as requests")
    func requests() throws {
        #expect(try parser.parse(["--help"], environment: [:]) == .helpRequested)
        #expect(try parser.parse(["-h"], environment: [:]) == .helpRequested)
        #expect(try parser.parse(["--version"], environment: [:]) == .versionRequested)
        #expect(try parser.parse(["--version", "--help"], environment: [:]) == .versionRequested)
    }

    @Test("answers --help even after a mistake on the command line or in the environment")
    func helpWinsOverMistakes() throws {
        let outcome = try parser.parse(["--nope", "--data-dir", "--help"], environment: ["SAMPLE_VERBOSE": "maybe"])
        #expect(outcome == .helpRequested)
    }

    @Test("takes --help after -- as a positional argument")
    func helpAfterDoubleDash() throws {
        #expect(try parse(["--", "--help"]).positionals == ["--help"])
    }

    @Test("leaves --version unknown when the parser does not offer it")
    func versionCanBeLeftOut() {
        let bare = OptionParser(commandName: "bare", purpose: "bare", options: [], includesVersionOption: false)
        #expect(throws: UsageError.self) {
            try bare.parse(["--version"], environment: [:])
        }
    }
}

@Suite("Option parser: flags, environment and defaults")
struct OptionParserPrecedenceTests {
    @Test("prefers the command line to the environment, and the environment to the default")
    func precedence() throws {
        let environment = ["SAMPLE_DATA_DIR": "/from-env"]
        let fromFlag = try parse(["--data-dir", "/from-flag"], environment)
        #expect(fromFlag.string("data-dir") == "/from-flag")
        #expect(fromFlag.source(of: "data-dir") == .commandLine)

        let fromEnvironment = try parse([], environment)
        #expect(fromEnvironment.string("data-dir") == "/from-env")
        #expect(fromEnvironment.source(of: "data-dir") == .environment(variable: "SAMPLE_DATA_DIR"))

        let fromDefault = try parse([])
        #expect(fromDefault.string("data-dir") == ".data")
        #expect(fromDefault.source(of: "data-dir") == .defaultValue)
    }

    @Test("has no value for an option without default that nothing gives")
    func noValue() throws {
        let values = try parse([])
        #expect(values.string("port") == nil)
        #expect(values.source(of: "port") == nil)
        #expect(try values.integer("port", in: 0...65535) == nil)
    }

    @Test("treats an empty environment variable as unset")
    func emptyEnvironmentVariable() throws {
        let values = try parse([], ["SAMPLE_DATA_DIR": "", "SAMPLE_VERBOSE": ""])
        #expect(values.string("data-dir") == ".data")
        #expect(!values.isSet("verbose"))
    }

    @Test(
        "reads a flag's environment variable as a boolean word",
        arguments: [
            ("1", true), ("true", true), ("TRUE", true), ("yes", true), ("Yes", true),
            ("0", false), ("false", false), ("no", false), ("NO", false),
        ]
    )
    func flagEnvironment(text: String, isOn: Bool) throws {
        #expect(try parse([], ["SAMPLE_VERBOSE": text]).isSet("verbose") == isOn)
    }

    @Test("refuses a flag's environment variable that is not a boolean word")
    func badFlagEnvironment() {
        let error = usageError([], ["SAMPLE_VERBOSE": "maybe"])
        #expect(error?.code == .invalidValue)
        #expect(error?.option == "--verbose")
        #expect(
            error?.message
                == "environment variable SAMPLE_VERBOSE expects one of 1, 0, true, false, yes, no, got 'maybe'"
        )
    }

    @Test("ignores a flag's bad environment variable when the command line gives the flag")
    func flagOnCommandLineSkipsEnvironment() throws {
        #expect(try parse(["--verbose"], ["SAMPLE_VERBOSE": "maybe"]).isSet("verbose"))
    }

    @Test("lets --flag=false on the command line switch off a flag set in the environment")
    func flagValueOverridesEnvironment() throws {
        #expect(!(try parse(["--verbose=false"], ["SAMPLE_VERBOSE": "1"]).isSet("verbose")))
        #expect(!(try parse(["-v=no"], ["SAMPLE_VERBOSE": "yes"]).isSet("verbose")))
        #expect(try parse(["--verbose=yes"]).isSet("verbose"))
        #expect(!(try parse([]).isSet("verbose")))
    }

    @Test("refuses a flag given a value that is not a boolean word")
    func badFlagValue() {
        let error = usageError(["--verbose=loud"])
        #expect(error?.code == .invalidValue)
        #expect(
            error?.message == "option '--verbose' expects no value or one of 1, 0, true, false, yes, no, got 'loud'"
        )
    }

    @Test("takes the word after a flag as a positional argument, not as the flag's value")
    func flagDoesNotTakeNextWord() throws {
        let values = try parse(["--verbose", "no"])
        #expect(values.isSet("verbose"))
        #expect(values.positionals == ["no"])
    }
}

@Suite("Option parser: mistakes on the command line")
struct OptionParserMistakeTests {
    @Test("refuses an unknown option and points to --help")
    func unknownOption() {
        let error = usageError(["--foo"])
        #expect(error?.code == .unknownOption)
        #expect(error?.option == "--foo")
        #expect(error?.message == "unknown option '--foo'; run 'sample --help' for the options")
    }

    @Test("refuses an unknown short option and a bundle of short options")
    func unknownShortOption() {
        #expect(usageError(["-x"])?.message == "unknown option '-x'; run 'sample --help' for the options")
        #expect(usageError(["-vd"])?.code == .unknownOption)
    }

    @Test(
        "suggests the option a typo most resembles",
        arguments: [
            ("--data-dri", "--data-dir"),
            ("--verbos", "--verbose"),
            ("--lisetn", "--listen"),
            ("-data-dir", "--data-dir"),
            ("--Port", "--port"),
            ("--time", "--timeout"),
            ("--colour", "--color"),
            ("--hepl", "--help"),
            ("--verison", "--version"),
        ]
    )
    func suggestion(typed: String, meant: String) {
        let expected = "unknown option '\(typed)' (did you mean '\(meant)'?); run 'sample --help' for the options"
        #expect(usageError([typed])?.message == expected)
    }

    @Test("suggests nothing when no option is obviously meant", arguments: ["--foo", "--x", "--la", "--data-url"])
    func noSuggestion(typed: String) {
        #expect(usageError([typed])?.message == "unknown option '\(typed)'; run 'sample --help' for the options")
    }

    @Test("reports the first mistake when there are several")
    func firstMistake() {
        #expect(usageError(["--foo", "--bar"])?.option == "--foo")
    }

    @Test("refuses an option that needs a value at the end of the command line")
    func missingValueAtEnd() {
        let error = usageError(["--data-dir"])
        #expect(error?.code == .missingValue)
        #expect(error?.option == "--data-dir")
        #expect(error?.message == "option '--data-dir' needs a value")
    }

    @Test("refuses an option that needs a value when another option follows it")
    func missingValueBeforeOption() {
        #expect(usageError(["--data-dir", "--verbose"])?.message == "option '--data-dir' needs a value")
        #expect(usageError(["-d", "--"])?.message == "option '--data-dir' needs a value")
    }

    @Test("a value that starts with a dash is refused when detached, with the attached spelling to use")
    func dashValue() {
        #expect(
            usageError(["--data-dir", "-Xk2:EdDSA:/k.pem"])?.message
                == "option '--data-dir' needs a value; a value that starts with '-' must be attached: "
                + "--data-dir=-Xk2:EdDSA:/k.pem")
    }
}

@Suite("Option parser: typed values")
struct OptionParserConversionTests {
    @Test("converts whole numbers within a range")
    func integers() throws {
        #expect(try parse(["--port", "5432"]).integer("port", in: 0...65535) == 5432)
        #expect(try parse(["--port=0"]).integer("port", in: 0...65535) == 0)
    }

    @Test("refuses numbers outside the range or not numbers at all, naming where they came from")
    func badIntegers() {
        let convert: (OptionParser.Values) throws(UsageError) -> Void = { values throws(UsageError) in
            _ = try values.integer("port", in: 0...65535)
        }
        #expect(
            usageError(["--port", "70000"], converting: convert)?.message
                == "option '--port' expects a whole number from 0 to 65535, got '70000'"
        )
        #expect(
            usageError([], ["SAMPLE_PORT": "abc"], converting: convert)?.message
                == "environment variable SAMPLE_PORT expects a whole number from 0 to 65535, got 'abc'"
        )
    }

    @Test(
        "converts durations with units",
        arguments: [
            ("250ms", Duration.milliseconds(250)), ("30s", .seconds(30)), ("5m", .seconds(300)),
            ("1h", .seconds(3600)), ("1m30s", .seconds(90)), ("0", .zero), ("0s", .zero),
        ]
    )
    func durations(text: String, duration: Duration) throws {
        #expect(try parse(["--timeout", text]).duration("timeout") == duration)
    }

    @Test(
        "refuses durations without units or with unknown ones",
        arguments: ["30", "soon", "5 m", "1.5s", "-5s", "30sec", "s", "99999999999999999999h"]
    )
    func badDurations(text: String) {
        let error = usageError(["--timeout=\(text)"]) { values throws(UsageError) in
            _ = try values.duration("timeout")
        }
        #expect(error?.message == "option '--timeout' expects a duration such as 250ms, 30s, 5m or 1h, got '\(text)'")
    }

    @Test("converts the default when nothing else is given")
    func defaultDuration() throws {
        #expect(try parse([]).duration("timeout") == .seconds(30))
    }

    @Test("converts a word from a fixed list, ignoring case and returning it as listed")
    func choices() throws {
        #expect(try parse(["--color", "GREEN"]).choice("color", from: ["red", "green"]) == "green")
        let error = usageError([], ["SAMPLE_COLOR": "loud"]) { values throws(UsageError) in
            _ = try values.choice("color", from: ["red", "green", "blue"])
        }
        #expect(error?.option == "--color")
        #expect(error?.message == "environment variable SAMPLE_COLOR expects one of red, green, blue, got 'loud'")
    }

    @Test("refuses an empty value where one is needed")
    func nonEmpty() throws {
        #expect(try parse(["--data-dir", "x"]).nonEmptyString("data-dir") == "x")
        let error = usageError(["--data-dir="]) { values throws(UsageError) in
            _ = try values.nonEmptyString("data-dir")
        }
        #expect(error?.message == "option '--data-dir' expects a non-empty value, got ''")
    }

    @Test("words the caller's own conversion errors after where the value came from")
    func callerConversion() throws {
        let values = try parse([])
        #expect(values.origin(of: "data-dir") == "the default of option '--data-dir'")
        let error = values.invalidValue("data-dir", expected: "an absolute path")
        #expect(error.message == "the default of option '--data-dir' expects an absolute path, got '.data'")
        #expect(try values.convert("data-dir", expected: "text") { $0.count } == 5)
    }
}

@Suite("Option parser: host and port")
struct HostAndPortTests {
    @Test(
        "converts host:port, with an IPv6 host in brackets",
        arguments: [
            ("127.0.0.1:7443", HostAndPort(host: "127.0.0.1", port: 7443)),
            ("0.0.0.0:0", HostAndPort(host: "0.0.0.0", port: 0)),
            ("db.internal:65535", HostAndPort(host: "db.internal", port: 65535)),
            ("[::1]:7443", HostAndPort(host: "::1", port: 7443)),
            ("[fe80::1%eth0]:80", HostAndPort(host: "fe80::1%eth0", port: 80)),
        ]
    )
    func goodAddresses(text: String, address: HostAndPort) throws {
        #expect(try parse(["--listen", text]).hostAndPort("listen") == address)
        #expect(HostAndPort(parsing: text) == address)
        #expect(address.description == text)
    }

    @Test(
        "refuses malformed addresses and says what was expected",
        arguments: [
            ("x", "host:port"),
            ("host", "host:port"),
            (":", "host:port with a host, such as 0.0.0.0 or 127.0.0.1"),
            (":7443", "host:port with a host, such as 0.0.0.0 or 127.0.0.1"),
            ("host:", "host:port"),
            ("host:http", "host:port"),
            ("host:+80", "host:port"),
            ("host:99999", "host:port with a port from 0 to 65535"),
            ("[::1", "host:port"),
            ("[::1]", "host:port"),
            ("[localhost]:80", "host:port"),
            ("::1:7443", "host:port with an IPv6 host in brackets, as [::1]:7443"),
            ("a b:80", "host:port"),
        ]
    )
    func badAddresses(text: String, expected: String) {
        let error = usageError([], ["SAMPLE_LISTEN": text]) { values throws(UsageError) in
            _ = try values.hostAndPort("listen")
        }
        #expect(error?.message == "environment variable SAMPLE_LISTEN expects \(expected), got '\(text)'")
        #expect(error?.option == "--listen")
        #expect(HostAndPort(parsing: text) == nil)
    }
}

@Suite("Option parser: help text")
struct OptionParserHelpTests {
    private let help = parser.helpText()

    @Test("starts with the usage line and the purpose")
    func header() {
        #expect(self.help.hasPrefix("Usage: sample [options]\n\nsample — a program that exists to exercise"))
    }

    @Test("lists every option with its value name, help, default and environment variable")
    func listsEveryOption() {
        for option in parser.options {
            #expect(self.help.contains(option.longFlag), "missing \(option.longFlag)")
            #expect(self.help.contains(option.help), "missing help of \(option.longFlag)")
            if let variable = option.environmentVariable {
                #expect(self.help.contains("[env: \(variable)]"), "missing \(variable)")
            }
        }
        #expect(self.help.contains("  -d, --data-dir PATH"))
        #expect(self.help.contains("      --listen HOST:PORT"))
        #expect(self.help.contains("[default: 127.0.0.1:80]"))
        #expect(self.help.contains("  -h, --help"))
        #expect(self.help.contains("      --version"))
    }

    @Test("aligns the help of every option in one column")
    func alignment() {
        let lines = self.help.split(separator: "\n")
        let columns = parser.options.compactMap { option in
            lines.lazy.compactMap { line in
                line.firstRange(of: option.help).map { line.distance(from: line.startIndex, to: $0.lowerBound) }
            }.first
        }
        #expect(columns.count == parser.options.count)
        #expect(Set(columns).count == 1)
    }

    @Test("ends with the examples")
    func examples() {
        #expect(self.help.hasSuffix("Examples:\n  Run verbosely:\n    sample --verbose\n"))
    }

    @Test("fits in 100 columns, wrapping long help and breaking long commands with a backslash")
    func wrapping() {
        let long = OptionParser(
            commandName: "long",
            purpose: String(repeating: "purpose ", count: 30),
            options: [
                .value(
                    "a-very-long-option-name-indeed",
                    valueName: "SOMETHING-LONG",
                    default: String(repeating: "d", count: 150),
                    environment: "LONG_VARIABLE",
                    help: String(repeating: "words of help ", count: 20)
                )
            ],
            examples: [OptionParser.Example("Long:", command: "long " + String(repeating: "--flag value ", count: 12))]
        )
        let lines = long.helpText().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.count <= 100 })
        #expect(lines.contains { $0.hasSuffix(" \\") })
        #expect(parser.helpText().split(separator: "\n").allSatisfy { $0.count <= 100 })
        #expect(long.helpText(width: 60).split(separator: "\n").allSatisfy { $0.count <= 60 })
    }
}
