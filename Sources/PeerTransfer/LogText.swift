/// Text from a tracker or a peer (user ids, group ids, file names, reasons) made safe for one
/// `key=value` log line, the one function every such value goes through: control characters
/// (C0, DEL, C1, Unicode format, line and paragraph separators, bidi overrides) become `\n`,
/// `\t`, `\r` or `\u{…}`, backslashes and quotes are escaped, and a value that is empty or holds
/// a space, `=` or a quote is wrapped in quotes, so remote text can neither end the line nor
/// forge another key. At most `TransferLimits.logTextCharactersMax` characters are kept.
public func logSafe(_ text: String) -> String {
    let escaped = escapeControlCharacters(text, quotes: true, characterLimit: TransferLimits.logTextCharactersMax)
    let needsQuotes = text.isEmpty || text.unicodeScalars.contains { $0 == " " || $0 == "=" || $0 == "\"" }
    return needsQuotes ? "\"" + escaped + "\"" : escaped
}

/// `text` with its control characters escaped (and, with `quotes`, its backslashes and double
/// quotes), cut to `characterLimit` characters: for log values and for remote text printed on
/// a terminal.
public func escapeControlCharacters(_ text: String, quotes: Bool = false, characterLimit: Int = .max) -> String {
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

private func isControl(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse: return true
    default: return false
    }
}
