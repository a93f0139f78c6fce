import Foundation
import Logging
import Testing

/// Strings a peer or a client could choose, and ones a careless writer gets wrong.
let hostileStrings: [String] = [
    "plain", "", " ", "say \"hi\"", "back\\slash\\", "\\\"", "line\nbreak", "cr\rlf\r\n", "tab\t",
    String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }), "del\u{7f}", "c1\u{85}\u{9b}",
    "bidi\u{202e}txt", "sep\u{2028}\u{2029}", "bom\u{feff}", "emoji 😀 ✓ é", "tag\u{e0001}", "private\u{f0000}",
    String(decoding: [0x61, 0xff, 0xfe, 0x62, 0xc3, 0x28, 0xed, 0xa0, 0x80], as: UTF8.self),
    "}{\"ok\":false,", "key=value other=\"x\"", String(repeating: "\u{0}", count: 40),
]

/// Parses one JSON line back with Foundation.
func parsed(_ line: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
}

@Suite("JSONValue: the one JSON writer")
struct JSONWriterTests {
    @Test("every hostile string survives a round trip through JSONSerialization, with and without format escapes")
    func stringsRoundTrip() throws {
        for text in hostileStrings {
            for escapesFormat in [false, true] {
                let line = JSONValue.object([(text, .string(text))]).text(escapingFormatCharacters: escapesFormat)
                let object = try #require(try parsed(line) as? [String: String], "\(line.debugDescription)")
                #expect(object == [text: text], "\(text.debugDescription) -> \(line.debugDescription)")
                #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, "raw control byte in \(line.debugDescription)")
            }
        }
    }

    @Test("invalid UTF-8 reaches the writer as U+FFFD and is written as such")
    func invalidUTF8Replaced() throws {
        let text = String(decoding: [0x41, 0xff, 0x42, 0xc0, 0xaf], as: UTF8.self)
        let value = try #require(try parsed(JSONValue.string(text).text) as? String)
        #expect(value == "A\u{fffd}B\u{fffd}\u{fffd}")
    }

    @Test("with format escapes, no format, separator or private-use character is written raw (surrogate pairs above U+FFFF)")
    func formatCharactersEscaped() {
        let line = JSONValue.string("a\u{202e}b\u{2028}c\u{e0001}d\u{85}").text(escapingFormatCharacters: true)
        #expect(line == "\"a\\u202eb\\u2028c\\udb40\\udc01d\\u0085\"")
        #expect(JSONValue.string("a\u{202e}").text == "\"a\u{202e}\"", "without them, client --json bytes stay as they were")
    }

    @Test("numbers: one decimal for measured values, fixed decimals or null, integers and unsigned in full")
    func numbers() throws {
        let value = JSONValue.array([.number(12.345), .number(.nan), .decimal(1.5, fractionDigits: 3), .decimal(.infinity, fractionDigits: 3),
                                     .integer(.min), .unsigned(.max), .null, .bool(true), .integer(clamping: -.infinity)])
        #expect(value.text == "[12.3,0,1.500,null,-9223372036854775808,18446744073709551615,null,true,0]")
        let array = try #require(try parsed(value.text) as? [Any])
        #expect(array.count == 9)
    }

    @Test("objects keep their key order and nest")
    func keyOrder() {
        let value = JSONValue.object([("z", .integer(1)), ("a", .object([("y", .array([]))])), ("m", .object([]))])
        #expect(value.text == "{\"z\":1,\"a\":{\"y\":[]},\"m\":{}}")
    }
}
