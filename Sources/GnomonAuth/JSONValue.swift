/// A JSON value, as a token's header and claims hold them.
///
/// Numbers keep the text they were written as (``JSONNumber``), so a time claim such as
/// `1767225600.5` is read exactly rather than through a `Double`.
public enum JSONValue: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, kept as its JSON text.
    case number(JSONNumber)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object; JSON text with a repeated key is refused rather than read.
    case object([String: JSONValue])

    /// Wraps an integer.
    public init(_ value: Int64) {
        self = .number(JSONNumber(value))
    }

    /// Wraps a string.
    public init(_ value: String) {
        self = .string(value)
    }

    /// Wraps strings as an array.
    public init(_ values: [String]) {
        self = .array(values.map { .string($0) })
    }

    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let value) = self {
            return value
        }
        return nil
    }

    /// The members, if this is an object.
    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self {
            return value
        }
        return nil
    }

    /// A name for the value's type, such as `a string`, for messages.
    var typeDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    /// Wraps a string literal.
    public init(stringLiteral value: String) {
        self = .string(value)
    }

    /// Wraps an integer literal.
    public init(integerLiteral value: Int64) {
        self = .number(JSONNumber(value))
    }

    /// Wraps a boolean literal.
    public init(booleanLiteral value: Bool) {
        self = .bool(value)
    }
}

extension JSONValue: ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    /// Wraps an array literal.
    public init(arrayLiteral elements: JSONValue...) {
        self = .array(elements)
    }

    /// Wraps a dictionary literal; a repeated key keeps its last value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    /// `null`.
    public init(nilLiteral: ()) {
        self = .null
    }
}

/// A JSON number, kept as the text it was written as.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number's JSON text, such as `1767225600` or `0.5e3`.
    public let text: String

    /// Wraps an integer.
    public init(_ value: Int64) {
        self.text = String(value)
    }

    /// Wraps a JSON number's text.
    ///
    /// - Parameter text: Text following JSON's number grammar.
    /// - Returns: `nil` when `text` is not a JSON number.
    public init?(text: String) {
        var parser = JSONParser(Array(text.utf8))
        guard case .number(let number)? = try? parser.parseDocument() else {
            return nil
        }
        self = number
    }

    init(validatedText text: String) {
        self.text = text
    }

    /// The value, when it is an integer that fits in 64 bits, written without fraction or exponent.
    public var int64Value: Int64? {
        Int64(self.text)
    }

    /// The JSON text.
    public var description: String {
        self.text
    }
}
