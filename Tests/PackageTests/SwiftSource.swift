/// Just enough lexing of Swift source to tell which modules a file imports and which names it
/// uses or declares: comments and string literals are blanked (their text is no use of a
/// name), string interpolations are kept (they are code).
enum SwiftSource {
    /// `source` with comments removed and, unless `keepsStrings`, the text of string literals
    /// removed (the quotes stay; interpolated code stays).
    static func stripped(_ source: String, keepsStrings: Bool = false) -> String {
        let bytes = Array(source.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if starts(bytes, i, "//") {
                while i < bytes.count, bytes[i] != UInt8(ascii: "\n") { i += 1 }
            } else if starts(bytes, i, "/*") {
                i = endOfBlockComment(bytes, from: i)
            } else if bytes[i] == UInt8(ascii: "\"") {
                i = copyString(bytes, from: i, into: &out, keepsText: keepsStrings)
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func starts(_ bytes: [UInt8], _ i: Int, _ prefix: String) -> Bool {
        let p = Array(prefix.utf8)
        return i + p.count <= bytes.count && Array(bytes[i..<(i + p.count)]) == p
    }

    /// The index after the block comment starting at `i` (Swift block comments nest).
    static func endOfBlockComment(_ bytes: [UInt8], from start: Int) -> Int {
        var depth = 0
        var i = start
        while i < bytes.count {
            if starts(bytes, i, "/*") {
                depth += 1
                i += 2
            } else if starts(bytes, i, "*/") {
                depth -= 1
                i += 2
                if depth == 0 { return i }
            } else {
                i += 1
            }
        }
        return i
    }

    /// Copies the string literal starting at `start` (single-line or `"""`), keeping its quotes
    /// and interpolations and, when `keepsText`, its text; returns the index after it.
    static func copyString(_ bytes: [UInt8], from start: Int, into out: inout [UInt8], keepsText: Bool) -> Int {
        let isMultiline = starts(bytes, start, "\"\"\"")
        let quote: [UInt8] = isMultiline ? Array("\"\"\"".utf8) : [UInt8(ascii: "\"")]
        out += quote
        var i = start + quote.count
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "(") {
                i = copyInterpolation(bytes, from: i + 2, into: &out)
            } else if bytes[i] == UInt8(ascii: "\\") {
                if keepsText { out += bytes[i..<min(i + 2, bytes.count)] }
                i += 2
            } else if starts(bytes, i, String(decoding: quote, as: UTF8.self)) {
                out += quote
                return i + quote.count
            } else if !isMultiline, bytes[i] == UInt8(ascii: "\n") {
                return i // unterminated: let the compiler say so
            } else {
                if keepsText { out.append(bytes[i]) }
                i += 1
            }
        }
        return i
    }

    /// Copies interpolated code up to its closing parenthesis; returns the index after it.
    static func copyInterpolation(_ bytes: [UInt8], from start: Int, into out: inout [UInt8]) -> Int {
        var depth = 1
        var i = start
        out.append(UInt8(ascii: " "))
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "(") { depth += 1 }
            if bytes[i] == UInt8(ascii: ")") { depth -= 1 }
            if depth == 0 { break }
            out.append(bytes[i])
            i += 1
        }
        out.append(UInt8(ascii: " "))
        return i + 1
    }

    /// The identifiers in stripped source, in order (backticks dropped).
    static func identifiers(_ text: Substring) -> [Substring] {
        var words: [Substring] = []
        var start: String.Index?
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let isWordCharacter = c == "_" || c.isLetter || (start != nil && c.isNumber)
            if isWordCharacter {
                if start == nil { start = i }
            } else if let s = start {
                words.append(text[s..<i])
                start = nil
            }
            i = text.index(after: i)
        }
        if let s = start { words.append(text[s...]) }
        return words
    }

    /// One `import` line: the module and whether it is `@testable`.
    struct Import: Hashable {
        var module: String
        var isTestable: Bool
    }

    /// Stripped source without its `import` lines (a module's name there is no use of it).
    static func withoutImports(_ stripped: String) -> String {
        stripped.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { imports(String($0)).isEmpty }
            .joined(separator: "\n")
    }

    /// The modules a stripped file imports.
    static func imports(_ stripped: String) -> [Import] {
        stripped.split(separator: "\n").compactMap { line -> Import? in
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard trimmed.hasPrefix("import ") || trimmed.hasPrefix("@") else { return nil }
            var words = identifiers(trimmed)[...]
            var isTestable = false
            while let first = words.first, ["testable", "_exported", "_implementationOnly", "preconcurrency"].contains(first) {
                isTestable = isTestable || first == "testable"
                words = words.dropFirst()
            }
            guard words.first == "import", let module = words.dropFirst().first else { return nil }
            return Import(module: String(module), isTestable: isTestable)
        }
    }
}
