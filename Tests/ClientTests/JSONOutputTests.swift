import Logging
import Testing
@testable import Client

/// The bytes of `--json` answers, pinned: the one JSON writer must keep printing exactly these.
@Suite("client --json bytes")
struct JSONOutputTests {
    @Test("every kind of value, escapes and odd numbers render to the same bytes as before the writer moved")
    func pinnedBytes() {
        let fields: [(String, JSONValue)] = [
            ("text", .string("a \"quoted\" \\ path\n\r\t\u{1}\u{1f}\u{7f} é ✓ \u{202e} 😀")),
            ("percent", .number(12.345)), ("nan", .number(.nan)), ("inf", .number(-.infinity)),
            ("speed", .integer(clamping: 1e300)), ("low", .integer(clamping: -1e300)), ("cut", .integer(clamping: 7.9)),
            ("none", .integer(clamping: .nan)), ("count", .integer(-3)), ("size", .unsigned(.max)),
            ("yes", .bool(true)), ("no", .bool(false)),
            ("list", .array([.string(""), .unsigned(0), .array([]), .object([])])),
            ("nested", .object([("k\"ey", .string("v"))])),
        ]
        #expect(CommandAnswer.ok("line", fields).rendered(command: "show_downloads", json: true) == """
            {"ok":true,"command":"show_downloads","text":"a \\"quoted\\" \\\\ path\\n\\r\\t\\u0001\\u001f\\u007f é ✓ \u{202e} 😀",\
            "percent":12.3,"nan":0,"inf":0,"speed":9223372036854775807,"low":-9223372036854775808,"cut":7,"none":0,\
            "count":-3,"size":18446744073709551615,"yes":true,"no":false,"list":["",0,[],{}],"nested":{"k\\"ey":"v"}}

            """)
        #expect(CommandAnswer.failure("not a \"member\"\n").rendered(command: "list_files", json: true)
                == "{\"ok\":false,\"command\":\"list_files\",\"error\":\"not a \\\"member\\\"\\n\"}\n")
        #expect(CommandAnswer.ok([]).rendered(command: "", json: true) == "{\"ok\":true,\"command\":\"\"}\n")
    }
}
