/// A strict RFC 8259 parser for the small JSON documents of token headers, claims and JWKS.
///
/// Stricter than most: a repeated object key, invalid UTF-8, an unpaired surrogate escape and
/// nesting deeper than ``maximumDepth`` are refused, so two parsers can never read one token's
/// claims differently. Errors name a position, never the input's content.
struct JSONParser {
    /// Why a document was refused, with the byte offset where it was noticed.
    struct Failure: Error {
        var reason: String
        var offset: Int
    }

    static let maximumDepth = 32

    private let bytes: [UInt8]
    private var position = 0
    private var depth = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses the whole input as one value, with nothing but whitespace around it.
    mutating func parseDocument() throws(Failure) -> JSONValue {
        self.skipWhitespace()
        let value = try self.parseValue()
        self.skipWhitespace()
        guard self.position == self.bytes.count else {
            throw self.failure("unexpected text after the value")
        }
        return value
    }

    private mutating func parseValue() throws(Failure) -> JSONValue {
        guard let byte = self.peek() else {
            throw self.failure("the text ends where a value should start")
        }
        switch byte {
        case UInt8(ascii: "{"):
            return try self.parseObject()
        case UInt8(ascii: "["):
            return try self.parseArray()
        case UInt8(ascii: "\""):
            return .string(try self.parseString())
        case UInt8(ascii: "t"):
            try self.expectWord("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try self.expectWord("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try self.expectWord("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try self.parseNumber())
        default:
            throw self.failure("a value cannot start here")
        }
    }

    private mutating func parseObject() throws(Failure) -> JSONValue {
        try self.enterContainer()
        var members: [String: JSONValue] = [:]
        self.skipWhitespace()
        if self.consume(UInt8(ascii: "}")) {
            self.depth -= 1
            return .object(members)
        }
        repeat {
            self.skipWhitespace()
            guard self.peek() == UInt8(ascii: "\"") else {
                throw self.failure("an object key must be a string")
            }
            let keyOffset = self.position
            let key = try self.parseString()
            self.skipWhitespace()
            guard self.consume(UInt8(ascii: ":")) else {
                throw self.failure("a colon must follow an object key")
            }
            self.skipWhitespace()
            let value = try self.parseValue()
            guard members.updateValue(value, forKey: key) == nil else {
                throw Failure(reason: "an object repeats a key", offset: keyOffset)
            }
            self.skipWhitespace()
        } while self.consume(UInt8(ascii: ","))
        guard self.consume(UInt8(ascii: "}")) else {
            throw self.failure("an object must end with a closing brace")
        }
        self.depth -= 1
        return .object(members)
    }

    private mutating func parseArray() throws(Failure) -> JSONValue {
        try self.enterContainer()
        var elements: [JSONValue] = []
        self.skipWhitespace()
        if self.consume(UInt8(ascii: "]")) {
            self.depth -= 1
            return .array(elements)
        }
        repeat {
            self.skipWhitespace()
            elements.append(try self.parseValue())
            self.skipWhitespace()
        } while self.consume(UInt8(ascii: ","))
        guard self.consume(UInt8(ascii: "]")) else {
            throw self.failure("an array must end with a closing bracket")
        }
        self.depth -= 1
        return .array(elements)
    }

    private mutating func enterContainer() throws(Failure) {
        self.depth += 1
        guard self.depth <= Self.maximumDepth else {
            throw self.failure("arrays and objects are nested more than \(Self.maximumDepth) deep")
        }
        self.position += 1
    }

    private mutating func parseString() throws(Failure) -> String {
        self.position += 1
        var utf8: [UInt8] = []
        while true {
            guard let byte = self.peek() else {
                throw self.failure("a string is not closed")
            }
            self.position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = String(validating: utf8, as: UTF8.self) else {
                    throw self.failure("a string is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                try self.parseEscape(into: &utf8)
            case 0..<0x20:
                throw self.failure("a string holds an unescaped control character")
            default:
                utf8.append(byte)
            }
        }
    }

    private mutating func parseEscape(into utf8: inout [UInt8]) throws(Failure) {
        guard let byte = self.peek() else {
            throw self.failure("a string is not closed")
        }
        self.position += 1
        let simple: UInt8? =
            switch byte {
            case UInt8(ascii: "\""): UInt8(ascii: "\"")
            case UInt8(ascii: "\\"): UInt8(ascii: "\\")
            case UInt8(ascii: "/"): UInt8(ascii: "/")
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "n"): 0x0A
            case UInt8(ascii: "r"): 0x0D
            case UInt8(ascii: "t"): 0x09
            default: nil
            }
        if let simple {
            utf8.append(simple)
            return
        }
        guard byte == UInt8(ascii: "u") else {
            throw self.failure("a string holds an unknown escape")
        }
        var scalar = try self.parseHexQuad()
        if (0xD800..<0xDC00).contains(scalar) {
            guard self.consume(UInt8(ascii: "\\")), self.consume(UInt8(ascii: "u")) else {
                throw self.failure("a string holds an unpaired surrogate")
            }
            let low = try self.parseHexQuad()
            guard (0xDC00..<0xE000).contains(low) else {
                throw self.failure("a string holds an unpaired surrogate")
            }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(scalar) {
            throw self.failure("a string holds an unpaired surrogate")
        } else if scalar == 0 {
            // No claim has a use for NUL, and PostgreSQL's text, where subjects end up, refuses it.
            throw self.failure("a string holds a NUL character")
        }
        // Every value left is a Unicode scalar: surrogates were paired or refused above.
        utf8.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
    }

    private mutating func parseHexQuad() throws(Failure) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = self.peek(), let digit = Self.hexValue(byte) else {
                throw self.failure("a \\u escape needs four hexadecimal digits")
            }
            value = value << 4 | UInt32(digit)
            self.position += 1
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as text.
    private mutating func parseNumber() throws(Failure) -> JSONNumber {
        let start = self.position
        _ = self.consume(UInt8(ascii: "-"))
        if self.consume(UInt8(ascii: "0")) {
            if let next = self.peek(), Self.isDigit(next) {
                throw self.failure("a number has a leading zero")
            }
        } else {
            try self.expectDigits()
        }
        if self.consume(UInt8(ascii: ".")) {
            try self.expectDigits()
        }
        if self.consume(UInt8(ascii: "e")) || self.consume(UInt8(ascii: "E")) {
            if !self.consume(UInt8(ascii: "+")) {
                _ = self.consume(UInt8(ascii: "-"))
            }
            try self.expectDigits()
        }
        return JSONNumber(validatedText: String(decoding: self.bytes[start..<self.position], as: UTF8.self))
    }

    private mutating func expectDigits() throws(Failure) {
        guard let first = self.peek(), Self.isDigit(first) else {
            throw self.failure("a number is missing digits")
        }
        while let byte = self.peek(), Self.isDigit(byte) {
            self.position += 1
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private mutating func expectWord(_ word: StaticString) throws(Failure) {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard self.bytes.count - self.position >= expected.count,
            self.bytes[self.position..<self.position + expected.count].elementsEqual(expected)
        else {
            throw self.failure("a value cannot start here")
        }
        self.position += expected.count
    }

    private func peek() -> UInt8? {
        self.position < self.bytes.count ? self.bytes[self.position] : nil
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard self.peek() == byte else {
            return false
        }
        self.position += 1
        return true
    }

    private mutating func skipWhitespace() {
        while let byte = self.peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            self.position += 1
        }
    }

    private func failure(_ reason: String) -> Failure {
        Failure(reason: reason, offset: self.position)
    }
}
