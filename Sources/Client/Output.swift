import Foundation

/// A JSON value, built by hand so key order is stable.
indirect enum JSONValue {
    case string(String)
    case number(Double)
    case integer(Int64)
    case bool(Bool)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// The compact JSON text.
    var text: String {
        switch self {
        case let .string(s): return Self.quote(s)
        case let .number(n): return n.isFinite ? String(format: "%.1f", n) : "0"
        case let .integer(n): return String(n)
        case let .bool(b): return b ? "true" : "false"
        case let .array(items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case let .object(fields): return "{" + fields.map { Self.quote($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
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
        if !isOK { return "error: \(error)\n" }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }
}

/// Writes to standard output and flushes at once (output may be a pipe read line by line).
func emit(_ text: String) {
    guard !text.isEmpty else { return }
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// One log line on standard error: a level, a constant message and key=value metadata.
/// Never pass a password or a token here.
func logLine(_ text: String) {
    FileHandle.standardError.write(Data("level=info \(text)\n".utf8))
}
