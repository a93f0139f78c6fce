/// The names a module offers to the files that import it: its top-level declarations (public
/// ones, or all of them for `@testable` importers) and the members of its extensions of other
/// modules' types (a file calling such a member needs the import). Members of the module's own
/// types are reached through the type's name or a value, so they are no evidence of a use.
struct Declarations {
    /// Names visible to a plain `import`.
    var publicNames: Set<Substring> = []
    /// Names visible to `@testable import` (public ones included).
    var allNames: Set<Substring> = []

    static let declarationKeywords: Set<Substring> = ["struct", "enum", "class", "protocol", "typealias", "func", "let", "var", "actor"]
    static let modifiers: Set<Substring> = [
        "public", "open", "internal", "package", "private", "fileprivate", "static", "final", "mutating",
        "nonmutating", "indirect", "override", "convenience", "required", "nonisolated", "set", "lazy",
        "weak", "unowned", "dynamic", "prefix", "postfix", "infix", "consuming", "borrowing",
    ]

    /// The declarations of one module's stripped sources.
    init(strippedSources: [String]) {
        var extensionMembers: [(extended: Substring, name: Substring, isPublic: Bool)] = []
        for source in strippedSources {
            var depth = 0
            var extended: (type: Substring, isPublic: Bool)?
            for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
                let words = Self.words(withoutAttributes: line)
                if depth == 0 {
                    extended = nil
                    if let found = Self.declaration(words) {
                        if found.keyword == "extension" {
                            extended = (found.name, found.isPublic)
                        } else {
                            allNames.insert(found.name)
                            if found.isPublic { publicNames.insert(found.name) }
                        }
                    }
                } else if depth == 1, let ext = extended, let found = Self.declaration(words), found.keyword != "extension" {
                    extensionMembers.append((ext.type, found.name, found.isPublic || ext.isPublic))
                }
                depth += line.count { $0 == "{" } - line.count { $0 == "}" }
            }
        }
        for member in extensionMembers where !allNames.contains(member.extended) {
            allNames.insert(member.name)
            if member.isPublic { publicNames.insert(member.name) }
        }
    }

    /// The words of a line, attributes (`@Sendable`, `@available(...)`) left out.
    static func words(withoutAttributes line: Substring) -> [Substring] {
        var kept = ""
        var i = line.startIndex
        while i < line.endIndex {
            guard line[i] == "@" else {
                kept.append(line[i])
                i = line.index(after: i)
                continue
            }
            i = line.index(after: i)
            while i < line.endIndex, line[i] == "_" || line[i].isLetter || line[i].isNumber { i = line.index(after: i) }
            if i < line.endIndex, line[i] == "(" {
                var parens = 0
                repeat {
                    if line[i] == "(" { parens += 1 }
                    if line[i] == ")" { parens -= 1 }
                    i = line.index(after: i)
                } while i < line.endIndex && parens > 0
            }
        }
        return SwiftSource.identifiers(Substring(kept))
    }

    /// The keyword, name and publicness of a declaration line, or nil when it declares nothing.
    static func declaration(_ words: [Substring]) -> (keyword: Substring, name: Substring, isPublic: Bool)? {
        var isPublic = false
        var rest = words[...]
        while let first = rest.first, modifiers.contains(first) {
            if first == "public" || first == "open" { isPublic = true }
            rest = rest.dropFirst()
        }
        guard let keyword = rest.first, declarationKeywords.contains(keyword) || keyword == "extension",
              let name = rest.dropFirst().first else { return nil }
        return (keyword, name, isPublic)
    }
}
