/// A target of Package.swift, as the dependency check reads it.
struct PackageTarget: Equatable {
    enum Kind: String, CaseIterable {
        case target, executableTarget, testTarget, systemLibrary
    }

    var kind: Kind
    var name: String
    /// The target dependencies, by name, in the manifest's order.
    var dependencies: [String]
    /// The sources' folder, relative to the package root.
    var path: String

    /// The targets of a manifest written the way this package's is: `.target(name: "X",
    /// dependencies: ["A", "B"], path: "...")`, comments allowed anywhere.
    static func parse(manifest: String) -> [PackageTarget] {
        let text = SwiftSource.stripped(manifest, keepsStrings: true)
        var targets: [PackageTarget] = []
        for kind in Kind.allCases {
            var rest = text[...]
            while let open = rest.range(of: ".\(kind.rawValue)(") {
                let body = balancedBody(rest[open.upperBound...])
                rest = rest[body.endIndex...]
                guard let name = quoted(after: "name:", in: body) else { continue }
                let path = quoted(after: "path:", in: body) ?? (kind == .testTarget ? "Tests/" : "Sources/") + name
                targets.append(PackageTarget(kind: kind, name: name, dependencies: dependencyList(body), path: path))
            }
        }
        return targets.sorted { $0.name < $1.name }
    }

    /// The text up to the parenthesis that closes the one just opened.
    static func balancedBody(_ text: Substring) -> Substring {
        var depth = 1
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == "(" { depth += 1 }
            if text[i] == ")" { depth -= 1 }
            if depth == 0 { return text[..<i] }
            i = text.index(after: i)
        }
        return text
    }

    /// The string literal after `label`, e.g. `name: "X"`.
    static func quoted(after label: String, in body: Substring) -> String? {
        guard let at = body.range(of: label) else { return nil }
        let rest = body[at.upperBound...].drop { $0 == " " || $0 == "\n" }
        guard rest.first == "\"", let close = rest.dropFirst().firstIndex(of: "\"") else { return nil }
        return String(rest[rest.index(after: rest.startIndex)..<close])
    }

    /// The quoted names inside `dependencies: [...]`.
    static func dependencyList(_ body: Substring) -> [String] {
        guard let at = body.range(of: "dependencies:"), let open = body[at.upperBound...].firstIndex(of: "["),
              let close = body[open...].firstIndex(of: "]") else { return [] }
        return body[body.index(after: open)..<close].split(separator: "\"", omittingEmptySubsequences: false).enumerated()
            .filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }
}

/// One thing the dependency check found wrong, stated so it can be fixed.
struct DependencyFinding: Hashable, CustomStringConvertible {
    enum Kind: String {
        case declaredButNotImported = "declares a dependency no source imports"
        case importedButNotDeclared = "imports a module it does not declare"
        case importedButUnused = "imports a module nothing in the file uses"
        case unknownModule = "imports a module that is neither a target nor a system module"
    }

    var kind: Kind
    /// The target, or the file for `importedButUnused`.
    var place: String
    var module: String

    var description: String { "\(place) \(kind.rawValue): \(module)" }
}

/// Package.swift's target dependencies against the `import` lines of each target's sources.
enum DependencyCheck {
    /// Modules of the toolchain and the OS: imported freely, never declared.
    static let systemModules: Set<String> = ["Foundation", "FoundationEssentials", "Glibc", "Dispatch", "Synchronization", "Testing", "XCTest"]

    /// A target's Swift files: each path (for messages) and its text.
    typealias Sources = [String: [(path: String, text: String)]]

    /// Everything wrong, sorted: declared dependencies no file imports, imports not declared,
    /// and imports of which the file uses no name (the module's public top-level names and
    /// extension members, or all of them for `@testable`; names the file's own target declares
    /// shadow them). A system library's names are C's: only its declaration is checked.
    static func findings(targets: [PackageTarget], sources: Sources) -> [DependencyFinding] {
        let byName = Dictionary(uniqueKeysWithValues: targets.map { ($0.name, $0) })
        let stripped = sources.mapValues { files in files.map { (path: $0.path, text: SwiftSource.stripped($0.text)) } }
        let declarations = stripped.mapValues { Declarations(strippedSources: $0.map(\.text)) }
        var found: Set<DependencyFinding> = []
        for target in targets where target.kind != .systemLibrary {
            var importedByTarget: Set<String> = []
            let own = declarations[target.name]?.allNames ?? []
            for file in stripped[target.name] ?? [] {
                let used = Set(SwiftSource.identifiers(SwiftSource.withoutImports(file.text)[...])).subtracting(own)
                for imported in SwiftSource.imports(file.text) where !systemModules.contains(imported.module) {
                    importedByTarget.insert(imported.module)
                    guard let module = byName[imported.module] else {
                        found.insert(DependencyFinding(kind: .unknownModule, place: file.path, module: imported.module))
                        continue
                    }
                    guard module.kind != .systemLibrary, let offered = declarations[module.name] else { continue }
                    if used.isDisjoint(with: imported.isTestable ? offered.allNames : offered.publicNames) {
                        found.insert(DependencyFinding(kind: .importedButUnused, place: file.path, module: module.name))
                    }
                }
            }
            for module in importedByTarget.subtracting(target.dependencies) where byName[module] != nil {
                found.insert(DependencyFinding(kind: .importedButNotDeclared, place: target.name, module: module))
            }
            for module in Set(target.dependencies).subtracting(importedByTarget) {
                found.insert(DependencyFinding(kind: .declaredButNotImported, place: target.name, module: module))
            }
        }
        return found.sorted { $0.description < $1.description }
    }

    /// Every target `name` depends on, directly or through others.
    static func closure(of name: String, in targets: [PackageTarget]) -> Set<String> {
        let byName = Dictionary(uniqueKeysWithValues: targets.map { ($0.name, $0) })
        var seen: Set<String> = []
        var pending = byName[name]?.dependencies ?? []
        while let next = pending.popLast() {
            guard seen.insert(next).inserted else { continue }
            pending += byName[next]?.dependencies ?? []
        }
        return seen
    }
}
