import Consensus
import DurableLog
import Foundation

/// A fresh directory under the system temporary directory, removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let name = "durablelog-\(UInt64.random(in: 0...UInt64.max))"
        path = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of the segment whose first entry is `firstIndex`.
    func segmentPath(_ firstIndex: UInt64) -> String {
        let digits = String(firstIndex)
        return path + "/log-" + String(repeating: "0", count: 20 - digits.count) + digits + ".seg"
    }

    var hardStatePath: String { path + "/hardstate" }

    /// Names of the segment files present, sorted.
    func segmentNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".seg") }.sorted()
    }
}

/// Entries `first...last` in `term`, each carrying a few bytes that name it.
func makeEntries(_ range: ClosedRange<UInt64>, term: UInt64, dataBytes: Int = 10) -> [Entry] {
    range.map { index in
        Entry(term: term, index: index, kind: .normal,
              data: (0..<dataBytes).map { UInt8(truncatingIfNeeded: index &* 31 &+ UInt64($0) &+ term) })
    }
}

/// Bytes one record of an entry with `dataBytes` of data takes: header 8, entry 21 + data.
func recordBytes(dataBytes: Int = 10) -> Int { 8 + 21 + dataBytes }

func fileSize(_ path: String) throws -> Int {
    try (FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
}

func truncateFile(_ path: String, toBytes length: Int) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: UInt64(length))
    try handle.close()
}

func flipBit(_ path: String, atByte offset: Int, bit: UInt8 = 0x10) throws {
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[offset] ^= bit
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func appendBytes(_ path: String, _ extra: [UInt8]) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(extra))
    try handle.close()
}

/// Saves the same batch to the store under test and to the in-memory model.
func saveBoth(_ storage: FileStorage, _ model: MemoryStorage, hardState: HardState?, entries: [Entry], mustSync: Bool = true) throws {
    try storage.save(hardState: hardState, entries: entries, mustSync: mustSync)
    // FileStorage writes the hard state only when term or vote change (a commit-only change
    // is re-learned from the leader), so the model keeps the same rule.
    let stored = try model.load().hardState
    let isWritten = hardState.map { $0.term != stored.term || $0.vote != stored.vote || $0.witnessMark != stored.witnessMark } ?? false
    try model.save(hardState: isWritten ? hardState : nil, entries: entries, mustSync: mustSync)
}

enum FileManagerHelpers {
    static func remove(_ path: String) throws { try FileManager.default.removeItem(atPath: path) }
}
