import Consensus
import Testing
@testable import DurableLog

/// The order of the store's file calls, which decides what a crash can leave behind.
@Suite("FileStorage write order", .serialized)
struct CrashOrderTests {
    /// Runs `body` with the file journal on; returns the calls on files under `directory`.
    static func journaled(in directory: String, _ body: () throws -> Void) rethrows -> [FileOperation] {
        fileJournal.withLock { $0 = [] }
        defer { fileJournal.withLock { $0 = nil } }
        try body()
        let all = fileJournal.withLock { $0 ?? [] }
        return all.filter { op in
            switch op {
            case let .write(path, _, _), let .truncate(path, _), let .sync(path), let .remove(path): path.hasPrefix(directory)
            case let .rename(from, _): from.hasPrefix(directory)
            }
        }
    }

    @Test("a cut log suffix is synced before new records are written where the old ones were")
    func truncationIsDurableBeforeRewrite() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        try storage.save(hardState: HardState(term: 1), entries: makeEntries(1...10, term: 1), mustSync: true)
        let ops = try Self.journaled(in: directory.path) {
            try storage.save(hardState: HardState(term: 2), entries: makeEntries(6...7, term: 2), mustSync: true)
        }
        let segment = directory.segmentPath(1)
        func isCut(_ op: FileOperation) -> Bool { if case .truncate(segment, _) = op { true } else { false } }
        func isWrite(_ op: FileOperation) -> Bool { if case .write(segment, _, _) = op { true } else { false } }
        let cut = try #require(ops.firstIndex(where: isCut), "the suffix was cut: \(ops)")
        let firstWrite = try #require(ops.indices.first { $0 > cut && isWrite(ops[$0]) })
        #expect(ops[cut..<firstWrite].contains(.sync(path: segment)), "no sync between the cut and the new records: \(ops)")
        let reloaded = try FileStorage(directory: directory.path).load()
        #expect(reloaded.entries == makeEntries(1...5, term: 1) + makeEntries(6...7, term: 2))
    }
}
