/// File and function lengths, measured on a Swift file's text: the size rule (files under
/// about 300 lines, functions under about 70) stated once, in code.
enum SourceSize {
    /// Lines a file may have.
    static let fileLinesMax = 300
    /// Lines a function or initializer may span, its signature and closing brace included.
    static let functionLinesMax = 70

    /// One function or initializer and the lines it spans.
    struct Function: Equatable {
        var name: String
        var line: Int
        var lineCount: Int
    }

    /// The number of lines of `source`.
    static func lineCount(_ source: String) -> Int {
        let bytes = Array(source.utf8)
        let newlines = bytes.count { $0 == UInt8(ascii: "\n") }
        return newlines + (bytes.last.map { $0 == UInt8(ascii: "\n") ? 0 : 1 } ?? 0)
    }

    /// `source` with the text of comments and string literals (multi-line ones included)
    /// replaced by spaces, every newline kept: braces and keywords in it are code.
    static func blanked(_ source: String) -> [UInt8] {
        let bytes = Array(source.utf8)
        var out = bytes
        var i = 0
        func blank(_ range: Range<Int>) {
            for k in range where out[k] != UInt8(ascii: "\n") { out[k] = UInt8(ascii: " ") }
        }
        while i < bytes.count {
            let end: Int
            if SwiftSource.starts(bytes, i, "//") {
                end = bytes[i...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            } else if SwiftSource.starts(bytes, i, "/*") {
                end = SwiftSource.endOfBlockComment(bytes, from: i)
            } else if SwiftSource.starts(bytes, i, "\"\"\"") {
                end = endOfMultilineString(bytes, from: i)
            } else if bytes[i] == UInt8(ascii: "\"") {
                end = endOfString(bytes, from: i)
            } else {
                i += 1
                continue
            }
            blank(i..<end)
            i = end
        }
        return out
    }

    private static func endOfMultilineString(_ bytes: [UInt8], from start: Int) -> Int {
        var i = start + 3
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
            if SwiftSource.starts(bytes, i, "\"\"\"") { return i + 3 }
            i += 1
        }
        return bytes.count
    }

    private static func endOfString(_ bytes: [UInt8], from start: Int) -> Int {
        var i = start + 1
        while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\n") {
            i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
        }
        return min(bytes.count, i + 1)
    }

    /// Every `func` and `init` of `source` that has a body, with the lines from its
    /// declaration to its closing brace.
    static func functions(_ source: String) -> [Function] {
        let code = blanked(source)
        var found: [Function] = []
        var i = 0
        while i < code.count {
            guard let (name, afterName) = declaration(code, at: i) else {
                i += 1
                continue
            }
            if let body = bodyStart(code, from: afterName), let close = matchingClose(code, from: body) {
                let line = code[..<i].count { $0 == UInt8(ascii: "\n") } + 1
                let lines = code[i..<close].count { $0 == UInt8(ascii: "\n") } + 1
                found.append(Function(name: name, line: line, lineCount: lines))
            }
            i = afterName
        }
        return found
    }

    /// `func name` or `init(` starting a word at `i`: the name and where the signature goes on.
    private static func declaration(_ code: [UInt8], at i: Int) -> (String, Int)? {
        if i > 0, isIdentifier(code[i - 1]) { return nil }
        if SwiftSource.starts(code, i, "func"), i + 4 < code.count, code[i + 4] == UInt8(ascii: " ") {
            var end = i + 5
            while end < code.count, code[end] != UInt8(ascii: "("), code[end] != UInt8(ascii: "<"), code[end] != UInt8(ascii: " ") { end += 1 }
            return ("func " + String(decoding: code[(i + 5)..<end], as: UTF8.self), end)
        }
        if SwiftSource.starts(code, i, "init") {
            var end = i + 4
            if end < code.count, code[end] == UInt8(ascii: "?") || code[end] == UInt8(ascii: "!") { end += 1 }
            guard end < code.count, code[end] == UInt8(ascii: "(") || code[end] == UInt8(ascii: "<") else { return nil }
            return ("init", end)
        }
        return nil
    }

    /// The `{` opening the body: the first one outside parentheses and brackets, unless a `}`
    /// or another declaration comes first (a protocol requirement has no body).
    private static func bodyStart(_ code: [UInt8], from start: Int) -> Int? {
        var depth = 0
        var i = start
        while i < code.count {
            switch code[i] {
            case UInt8(ascii: "("), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: ")"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: "{") where depth <= 0: return i
            case UInt8(ascii: "}") where depth <= 0: return nil
            default:
                if depth <= 0, !isIdentifier(code[i - 1]),
                   ["func ", "var ", "let ", "case ", "init("].contains(where: { SwiftSource.starts(code, i, $0) }) { return nil }
            }
            i += 1
        }
        return nil
    }

    private static func matchingClose(_ code: [UInt8], from open: Int) -> Int? {
        var depth = 0
        for i in open..<code.count {
            if code[i] == UInt8(ascii: "{") { depth += 1 }
            if code[i] == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 { return i }
            }
        }
        return nil
    }

    private static func isIdentifier(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
    }

    /// The offenders among `files` (path, text): files over `fileLinesMax` lines and functions
    /// over `functionLinesMax`, as `path: N lines` or `path:line name: N lines`, sorted.
    static func offenders(_ files: [(path: String, text: String)]) -> [String] {
        var found: [String] = []
        for file in files {
            let lines = lineCount(file.text)
            if lines > fileLinesMax { found.append("\(file.path): \(lines) lines") }
            for function in functions(file.text) where function.lineCount > functionLinesMax {
                found.append("\(file.path):\(function.line) \(function.name): \(function.lineCount) lines")
            }
        }
        return found.sorted()
    }
}
