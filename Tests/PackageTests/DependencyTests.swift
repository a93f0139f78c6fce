import Foundation
import Testing

/// The package this test target belongs to, read from disk: its manifest and every target's
/// Swift sources.
struct Repository {
    let root: URL
    let targets: [PackageTarget]
    let sources: DependencyCheck.Sources

    /// The checkout holding this file (Tests/PackageTests/ is two levels below the root).
    static func load() throws -> Repository {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let targets = PackageTarget.parse(manifest: try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8))
        var sources: DependencyCheck.Sources = [:]
        for target in targets {
            let folder = root.appendingPathComponent(target.path)
            let files = FileManager.default.enumerator(atPath: folder.path)?.compactMap { $0 as? String } ?? []
            sources[target.name] = try files.filter { $0.hasSuffix(".swift") }.sorted().map { file in
                (path: target.path + "/" + file, text: try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8))
            }
        }
        return Repository(root: root, targets: targets, sources: sources)
    }
}

/// Modules of the server: a client must link none of them (DESIGN: cut modules by who uses them).
let serverModules: Set<String> = ["Consensus", "DurableLog", "TrackerHosting", "SimNet"]

@Suite("Package: who depends on what")
struct DependencyTests {
    @Test("every declared dependency is imported, every import is declared, and every import is used in its file")
    func dependenciesMatchImports() throws {
        let repository = try Repository.load()
        #expect(repository.targets.count >= 25, "the manifest was read: \(repository.targets.map(\.name))")
        #expect(repository.sources.values.map(\.count).reduce(0, +) > 200, "the sources were read")
        let findings = DependencyCheck.findings(targets: repository.targets, sources: repository.sources)
        #expect(findings.isEmpty, "\n\(findings.map(\.description).joined(separator: "\n"))")
    }

    @Test("the check names a declared-but-unimported dependency, an undeclared import, an unused import and an unknown module")
    func checkFindsEachKind() {
        let manifest = """
            .target(name: "Core", swiftSettings: strict),
            // A comment (with parentheses) between targets.
            .target(name: "Wire", dependencies: ["Core"], swiftSettings: strict),
            .executableTarget(name: "App", dependencies: ["Wire", "Core"], path: "apps/App"),
            .testTarget(name: "AppTests", dependencies: ["Wire"]),
            """
        let targets = PackageTarget.parse(manifest: manifest)
        #expect(targets.map(\.name) == ["App", "AppTests", "Core", "Wire"])
        #expect(targets.first { $0.name == "App" } == PackageTarget(kind: .executableTarget, name: "App", dependencies: ["Wire", "Core"], path: "apps/App"))
        let sources: DependencyCheck.Sources = [
            "Core": [(path: "Core/A.swift", text: "public struct Token {}\nstruct Hidden {}\nextension Int {\n    public var doubled: Int { self * 2 }\n}\n")],
            "Wire": [(path: "Wire/B.swift", text: "import Core\npublic func send(_ t: Token) {}\n")],
            "App": [(path: "apps/App/main.swift", text: "import Foundation\nimport Wire\n// import Core\nlet s = \"Token\"\nsend(x)\n")],
            "AppTests": [(path: "Tests/AppTests/T.swift", text: "@testable import Core\nimport Testing\nimport Wire\nimport Nowhere\nlet h = Hidden()\nlet d = 3.doubled\n")],
        ]
        let findings = DependencyCheck.findings(targets: targets, sources: sources).map(\.description)
        #expect(findings == [
            "App declares a dependency no source imports: Core", // the import is in a comment, the name in a string
            "AppTests imports a module it does not declare: Core",
            "Tests/AppTests/T.swift imports a module nothing in the file uses: Wire",
            "Tests/AppTests/T.swift imports a module that is neither a target nor a system module: Nowhere",
        ])
    }

    @Test("no client target's dependency closure in Package.swift holds a server module")
    func clientClosureHasNoServer() throws {
        let targets = try Repository.load().targets
        for client in ["Client", "PeerTransfer", "TrackerClient", "TrackerProtocol"] {
            let closure = DependencyCheck.closure(of: client, in: targets)
            #expect(closure.isDisjoint(with: serverModules), "\(client) depends on \(closure.intersection(serverModules).sorted())")
        }
        #expect(DependencyCheck.closure(of: "TrackerNode", in: targets).isSuperset(of: ["Consensus", "DurableLog", "TrackerHosting"]))
    }

    @Test("the linked client binary holds no symbol of Consensus, DurableLog or TrackerHosting, while tracker-node's does")
    func clientBinaryLinksNoServer() throws {
        let client = try symbolCounts(of: "client")
        #expect(client["RaftNode"] == 0, "RaftNode symbols in the client: \(client)")
        for module in serverModules { #expect(client[module] == 0, "\(module) symbols in the client: \(client)") }
        #expect((client["TrackerProtocol"] ?? 0) > 0, "nm read the client's Swift symbols")
        let node = try symbolCounts(of: "tracker-node")
        for module in ["Consensus", "DurableLog", "TrackerHosting"] { #expect((node[module] ?? 0) > 0, "\(module) in tracker-node: \(node)") }
        #expect((node["RaftNode"] ?? 0) > 0)
    }

    /// How many of a built executable's symbols belong to each module of interest (Swift
    /// mangles a module name as its length and the name) and mention `RaftNode`.
    func symbolCounts(of product: String) throws -> [String: Int] {
        let binary = try #require(builtProduct(product), "\(product) is not built beside the test bundle")
        let nm = Process()
        nm.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        nm.arguments = ["nm", binary]
        let pipe = Pipe()
        nm.standardOutput = pipe
        try nm.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        nm.waitUntilExit()
        #expect(nm.terminationStatus == 0, "nm \(binary) failed")
        var counts: [String: Int] = [:]
        let modules = serverModules.union(["TrackerProtocol"])
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            for module in modules where line.contains("\(module.utf8.count)\(module)") { counts[module, default: 0] += 1 }
            if line.contains("RaftNode") { counts["RaftNode", default: 0] += 1 }
        }
        for module in modules.union(["RaftNode"]) where counts[module] == nil { counts[module] = 0 }
        return counts
    }

    /// A product swift build put beside the test bundle, or nil.
    func builtProduct(_ name: String) -> String? {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let path = folder.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }
}
