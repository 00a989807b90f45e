import Testing

@testable import GnomonAuth

@Suite("JSON parser")
struct JSONParserTests {
    private func parse(_ text: String) -> JSONValue? {
        var parser = JSONParser(Array(text.utf8))
        return try? parser.parseDocument()
    }

    @Test("reads every kind of value")
    func readsValues() {
        let value = self.parse(#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d\u00e9\n\"\\"}} "#)
        let expected: JSONValue = [
            "a": [1, .number(JSONNumber(text: "-2.5e3")!), true, false, nil],
            "b": ["c": "dé\n\"\\"],
        ]
        #expect(value == expected)
    }

    @Test("keeps a number's text, so that no precision is lost")
    func numbersKeepText() {
        #expect(
            self.parse("12345678901234567890.123456789") == .number(JSONNumber(text: "12345678901234567890.123456789")!)
        )
        #expect(JSONNumber(text: "9007199254740993")?.int64Value == 9_007_199_254_740_993)
        #expect(JSONNumber(text: "1.0")?.int64Value == nil)
    }

    @Test("joins a surrogate pair into one scalar")
    func surrogatePair() {
        #expect(self.parse(#""\ud83d\ude00""#) == .string("😀"))
    }

    @Test(
        "refuses what RFC 8259 forbids, repeated keys, lone surrogates, NUL and deep nesting",
        arguments: [
            #"{"a": 1, "a": 2}"#,
            #"{"a": 1,}"#,
            "[1,]",
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "NaN",
            "Infinity",
            "'a'",
            #""\ud800""#,
            #""\udc00\ud800""#,
            #""\u0000""#,
            #""\x41""#,
            "\"a\tb\"",
            "{} {}",
            "tru",
            "",
            String(repeating: "[", count: 33) + String(repeating: "]", count: 33),
        ]
    )
    func refuses(text: String) {
        #expect(self.parse(text) == nil)
    }

    @Test("accepts nesting up to the limit")
    func nestingLimit() {
        let depth = JSONParser.maximumDepth
        #expect(self.parse(String(repeating: "[", count: depth) + String(repeating: "]", count: depth)) != nil)
    }

    @Test("refuses invalid UTF-8 in a string")
    func invalidUTF8() {
        var parser = JSONParser([0x22, 0xC3, 0x28, 0x22])
        #expect(throws: JSONParser.Failure.self) { try parser.parseDocument() }
    }

    @Test("encodes sorted and escaped, and reads back the same value")
    func encodes() {
        let value: JSONValue = ["b": [1, "x\"y\u{01}"], "a": true, "c": nil]
        let text = String(decoding: value.encoded(), as: UTF8.self)
        #expect(text == #"{"a":true,"b":[1,"x\"y\u0001"],"c":null}"#)
        #expect(self.parse(text) == value)
    }
}
