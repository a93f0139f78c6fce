import Logging
import PeerTransfer

/// What a command produced: lines for a person, fields for `--json`, or an error.
struct CommandAnswer {
    var isOK: Bool
    var lines: [String]
    var fields: [(String, JSONValue)]
    var error: String

    static func ok(_ lines: [String], _ fields: [(String, JSONValue)] = []) -> CommandAnswer {
        CommandAnswer(isOK: true, lines: lines, fields: fields, error: "")
    }

    static func ok(_ line: String, _ fields: [(String, JSONValue)] = []) -> CommandAnswer { ok([line], fields) }

    static func failure(_ message: String) -> CommandAnswer { CommandAnswer(isOK: false, lines: [], fields: [], error: message) }

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
