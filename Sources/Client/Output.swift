import Foundation
import PeerTransfer

/// A JSON value, built by hand so key order is stable.
indirect enum JSONValue {
    case string(String)
    case number(Double)
    case integer(Int64)
    /// An unsigned count or size, printed in full (no conversion to Int64 that could trap).
    case unsigned(UInt64)
    case bool(Bool)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// The compact JSON text.
    var text: String {
        switch self {
        case let .string(s): return Self.quote(s)
        case let .number(n): return n.isFinite ? String(format: "%.1f", n) : "0"
        case let .integer(n): return String(n)
        case let .unsigned(n): return String(n)
        case let .bool(b): return b ? "true" : "false"
        case let .array(items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case let .object(fields): return "{" + fields.map { Self.quote($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    /// A whole number from a measured `Double` (NaN, infinities and values out of range give
    /// 0 or the nearest bound, never a trap).
    static func integer(clamping value: Double) -> JSONValue {
        guard value.isFinite else { return .integer(0) }
        if value >= 9.2e18 { return .integer(.max) }
        if value <= -9.2e18 { return .integer(.min) }
        return .integer(Int64(value.rounded(.towardZero)))
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// What a command produced: lines for a person, fields for `--json`, or an error.
struct Reply {
    var isOK: Bool
    var lines: [String]
    var fields: [(String, JSONValue)]
    var error: String

    static func ok(_ lines: [String], _ fields: [(String, JSONValue)] = []) -> Reply {
        Reply(isOK: true, lines: lines, fields: fields, error: "")
    }

    static func ok(_ line: String, _ fields: [(String, JSONValue)] = []) -> Reply { ok([line], fields) }

    static func failure(_ message: String) -> Reply { Reply(isOK: false, lines: [], fields: [], error: message) }

    /// The text to print: the lines, or `error: …`; with `json`, one JSON object on one line.
    func rendered(command: String, json: Bool) -> String {
        if json {
            var object: [(String, JSONValue)] = [("ok", .bool(isOK)), ("command", .string(command))]
            if isOK { object += fields } else { object.append(("error", .string(error))) }
            return JSONValue.object(object).text + "\n"
        }
        // Lines carry names and reasons from trackers and peers: no control character reaches
        // the terminal raw.
        if !isOK { return "error: \(escapeControlCharacters(error))\n" }
        return lines.isEmpty ? "" : lines.map { escapeControlCharacters($0) }.joined(separator: "\n") + "\n"
    }
}

/// One log line on standard error: a level, a constant message and key=value metadata.
/// Never pass a password or a token here; every remote value goes through `logSafe` first.
func logLine(_ text: String) {
    // Milliseconds of the monotonic clock, so lines of one run (and of several clients) line up.
    FileHandle.standardError.write(Data("mono_ms=\(monotonicNowMillis()) level=info \(text)\n".utf8))
}
