/// The text form of a log line, and the one escaper every logged value goes through.
public enum LogText {
    /// Characters of one field value kept in a line; longer values end in `…`.
    public static let valueCharactersMax = 256

    /// `time LEVEL message key=value …` and a newline.
    static func line(_ record: LogRecord) -> String {
        var line = "\(record.timestamp) \(record.level.rawValue) \(escaped(record.message, quoting: false))"
        for (key, value) in record.fields {
            line += " \(escaped(key, quoting: false))=\(escaped(value, quoting: true, characterLimit: valueCharactersMax))"
        }
        return line + "\n"
    }

    /// `text` safe for one `key=value` log line, the one function every such value goes
    /// through: control and format characters (C0, DEL, C1, Unicode format, line and paragraph
    /// separators, bidi overrides) become `\n`, `\t`, `\r` or `\u{…}`, and backslashes are
    /// escaped. With `quoting`, double quotes are escaped too and a value that is empty or holds
    /// a space, `=` or a quote is wrapped in quotes, so remote text can neither end the line nor
    /// forge another key. At most `characterLimit` characters are kept (then `…`).
    public static func escaped(_ text: String, quoting: Bool, characterLimit: Int = .max) -> String {
        let escapedText = escapeControlCharacters(text, quotes: quoting, characterLimit: characterLimit)
        let needsQuotes = quoting && (text.isEmpty || text.unicodeScalars.contains { $0 == " " || $0 == "=" || $0 == "\"" })
        return needsQuotes ? "\"" + escapedText + "\"" : escapedText
    }

    /// `text` with its control characters escaped as `\n`, `\r`, `\t` or `\u{…}` (and, with
    /// `quotes`, its backslashes and double quotes), cut to `characterLimit` characters: for
    /// log values and for remote text printed on a terminal.
    public static func escapeControlCharacters(_ text: String, quotes: Bool = false, characterLimit: Int = .max) -> String {
        var out = ""
        var kept = 0
        for scalar in text.unicodeScalars {
            guard kept < characterLimit else {
                out += "…"
                break
            }
            kept += 1
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\" where quotes: out += "\\\\"
            case "\"" where quotes: out += "\\\""
            default:
                if isControl(scalar) {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Whether `scalar` is a control, format, separator, surrogate, private-use or unassigned
    /// code point: one that must not reach a terminal or a log line raw.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse: return true
        default: return false
        }
    }
}
