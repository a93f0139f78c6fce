import Foundation
import Testing

/// Files allowed over the size rule, each with the reason; keep it short.
let sizeAllowlist: [String: String] = [:]

@Suite("Package: file and function sizes")
struct SizeTests {
    @Test("every Swift file is under 300 lines and every function under 70, but for the allowlist")
    func sizesWithinLimits() throws {
        let repository = try Repository.load()
        var files: [(path: String, text: String)] = []
        for target in repository.targets { files += repository.sources[target.name] ?? [] }
        #expect(files.count > 200, "the sources were read")
        let offenders = SourceSize.offenders(files).filter { line in
            !sizeAllowlist.keys.contains { line.hasPrefix($0 + ":") }
        }
        #expect(offenders.isEmpty, "over the size rule (split them, or allowlist with a reason):\n\(offenders.joined(separator: "\n"))")
        for path in sizeAllowlist.keys {
            #expect(files.contains { $0.path == path }, "the allowlist names a file that is gone: \(path)")
        }
    }

    @Test("the measure finds long files, long functions and initializers, and ignores braces in strings and comments")
    func measureFindsOffenders() {
        let body = (0..<69).map { "    x += \($0) // {" }.joined(separator: "\n")
        let source = """
            protocol P {
                func requirement() -> Int
                init(value: Int)
            }
            struct S {
                init(a: Int = { 1 }()) {
                    let s = "}}}"
                }
                func long(_ f: (Int) -> Void = { _ in }) {
            \(body)
                }
                func short() { let t = \"\"\"
                    { not code
                    \"\"\" }
            }
            """
        let functions = SourceSize.functions(source)
        #expect(functions == [
            SourceSize.Function(name: "init", line: 6, lineCount: 3),
            SourceSize.Function(name: "func long", line: 9, lineCount: 71),
            SourceSize.Function(name: "func short", line: 80, lineCount: 3),
        ])
        let tall = String(repeating: "let a = 1\n", count: 301)
        #expect(SourceSize.offenders([(path: "A.swift", text: source), (path: "B.swift", text: tall)])
                == ["A.swift:9 func long: 71 lines", "B.swift: 301 lines"])
    }
}
