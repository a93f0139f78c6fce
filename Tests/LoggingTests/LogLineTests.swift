import Foundation
import Logging
import Synchronization
import Testing

/// A fixed moment: 2026-12-02T01:02:03.456Z.
let fixedTime = (seconds: 1_796_173_323, nanoseconds: 456_789_000)

func record(_ fields: [(key: String, value: String)], level: LogLevel = .info, message: String = "event happened") -> LogRecord {
    LogRecord(level, message: message, fields: fields, time: fixedTime)
}

@Suite("Log lines: text and JSON")
struct LogLineTests {
    @Test("a text line is time, level, message and key=value fields in order, one line")
    func textShape() {
        let line = record([("id", "2"), ("address", "127.0.0.1:7002"), ("empty", "")]).rendered(.text)
        #expect(line == "2026-12-02T01:02:03.456Z INFO event happened id=2 address=127.0.0.1:7002 empty=\"\"\n")
    }

    @Test("remote text in a text line cannot end the line, forge a key or carry a terminal escape")
    func textEscaping() {
        func value(_ text: String) -> String {
            let line = record([("v", text)]).rendered(.text)
            return String(line.dropFirst("2026-12-02T01:02:03.456Z INFO event happened v=".count).dropLast())
        }
        #expect(value("alice") == "alice")
        #expect(value("a\nb") == "a\\nb")
        #expect(value("evil\r\nlevel=error forged=1") == "\"evil\\r\\nlevel=error forged=1\"")
        #expect(value("\u{1b}[31mred") == "\\u{1b}[31mred")
        #expect(value("say \"hi\"\\") == "\"say \\\"hi\\\"\\\\\"")
        #expect(value("bidi\u{202E}txt\u{85}\u{2028}") == "bidi\\u{202e}txt\\u{85}\\u{2028}")
        #expect(value(String(repeating: "x", count: 10_000)).count == LogText.valueCharactersMax + 1, "cut, then …")
        for text in hostileStrings {
            let line = record([("user", text), ("next", "1")]).rendered(.text)
            #expect(line.filter { $0 == "\n" }.count == 1 && line.last == "\n", "\(line.debugDescription)")
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || (0x7F...0x9F).contains($0.value) }, "\(line.debugDescription)")
            #expect(line.hasSuffix(" next=1\n"), "the value did not swallow or forge the next field: \(line.debugDescription)")
        }
    }

    @Test("a JSON line parses back with JSONSerialization to exactly the fields given, hostile values included")
    func jsonRoundTrip() throws {
        for text in hostileStrings {
            let line = record([("user", text), (text, "as a key")], level: .warn).rendered(.json)
            #expect(line.last == "\n" && line.dropLast().allSatisfy { $0 != "\n" }, "one line: \(line.debugDescription)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "\(line)")
            #expect(object["time"] == "2026-12-02T01:02:03.456Z")
            #expect(object["level"] == "warn")
            #expect(object["message"] == "event happened")
            #expect(object["user"] == text, "\(text.debugDescription) -> \(line.debugDescription)")
            if !["user", "time", "level", "message"].contains(text) { #expect(object[text] == "as a key") }
        }
    }

    @Test("a JSON field named like time, level, message or an earlier field is renamed, never duplicated")
    func jsonReservedKeys() throws {
        let line = record([("level", "forged"), ("message", "x"), ("a", "1"), ("a", "2")]).rendered(.json)
        #expect(line == """
            {"time":"2026-12-02T01:02:03.456Z","level":"info","message":"event happened","field.level":"forged","field.message":"x","a":"1","field.a":"2"}

            """)
    }

    @Test("long JSON values are cut like text ones")
    func jsonCut() throws {
        let line = record([("v", String(repeating: "y", count: 5_000))]).rendered(.json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["v"] == String(repeating: "y", count: LogText.valueCharactersMax) + "…")
    }

    @Test("timestamps are UTC ISO 8601 with milliseconds, like Foundation's formatter, across the calendar")
    func timestamps() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for seconds in [0, 59, 86_399, 951_782_400, 1_709_164_800, 1_796_173_323, 4_102_444_799, 253_402_300_799] {
            let stamp = LogRecord(.info, message: "m", fields: [], time: (seconds, 7_000_000)).timestamp
            #expect(stamp == formatter.string(from: Date(timeIntervalSince1970: Double(seconds) + 0.007)), "\(seconds)")
        }
    }

    @Test("Log writes each record whole to the configured destination, in its format")
    func destination() throws {
        let lines = Mutex<[String]>([])
        Log.configure(Log.Destination(format: .json) { line in lines.withLock { $0.append(line) } })
        defer { Log.configure(.standardError(.text)) }
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            for j in 0..<50 { Log.info("concurrent line", ["thread": "\(i)", "n": "\(j)", "text": "a\nb\"c"]) }
        }
        let all = lines.withLock { $0 }
        #expect(all.count == 400)
        for line in all {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
            #expect(object["message"] == "concurrent line" && object["text"] == "a\nb\"c")
        }
    }
}
