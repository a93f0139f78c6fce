import Consensus
import DurableLog
import SeededRandom
import Testing

@Suite("FileStorage round trips")
struct RoundTripTests {
    @Test("An empty directory loads as the zero hard state and no entries")
    func emptyLoad() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path + "/new/nested")
        #expect(try storage.load() == PersistedState())
    }

    @Test("Batches of entries and hard states saved, then reopened, load exactly as saved")
    func batchesRoundTrip() throws {
        let directory = try TemporaryDirectory()
        let model = MemoryStorage()
        do {
            let storage = try FileStorage(directory: directory.path)
            _ = try storage.load()
            try saveBoth(storage, model, hardState: HardState(term: 1, vote: 2, commit: 0), entries: makeEntries(1...3, term: 1))
            try saveBoth(storage, model, hardState: HardState(term: 1, vote: 2, commit: 3), entries: [], mustSync: false)
            try saveBoth(storage, model, hardState: nil, entries: makeEntries(4...4, term: 1, dataBytes: 0))
            try saveBoth(storage, model, hardState: HardState(term: 2, vote: 0, commit: 4), entries: makeEntries(5...9, term: 2, dataBytes: 1000))
            try saveBoth(storage, model, hardState: nil, entries: [Entry(term: 2, index: 10, kind: .noop)], mustSync: false)
            #expect(try storage.load() == model.load())
        }
        let reopened = try FileStorage(directory: directory.path)
        let loaded = try reopened.load()
        #expect(loaded == (try model.load()))
        #expect(loaded.entries.count == 10)
        #expect(loaded.hardState == HardState(term: 2, vote: 0, commit: 4))
    }

    @Test("Saving before load() loads first and appends after the stored entries")
    func saveWithoutLoad() throws {
        let directory = try TemporaryDirectory()
        try FileStorage(directory: directory.path).save(hardState: nil, entries: makeEntries(1...2, term: 1), mustSync: true)
        try FileStorage(directory: directory.path).save(hardState: nil, entries: makeEntries(3...4, term: 1), mustSync: true)
        #expect(try FileStorage(directory: directory.path).load().entries == makeEntries(1...4, term: 1))
    }

    @Test("A new entry at a stored index replaces that entry and every later one, within a segment")
    func suffixReplacementWithinSegment() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        try storage.save(hardState: nil, entries: makeEntries(1...10, term: 1), mustSync: true)
        try storage.save(hardState: nil, entries: makeEntries(6...7, term: 2), mustSync: true)
        let expected = makeEntries(1...5, term: 1) + makeEntries(6...7, term: 2)
        #expect(try FileStorage(directory: directory.path).load().entries == expected)
        #expect(try fileSize(directory.segmentPath(1)) == 7 * recordBytes())
        #expect(try directory.segmentNames().count == 1)
    }

    @Test("Replacing a suffix that spans segments deletes later segments and cuts the one holding it")
    func suffixReplacementAcrossSegments() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path, segmentBytesTarget: 3 * recordBytes())
        for first in stride(from: UInt64(1), through: 10, by: 3) {
            try storage.save(hardState: nil, entries: makeEntries(first...(first + 2), term: 1), mustSync: true)
        }
        #expect(try directory.segmentNames().count == 4)
        try storage.save(hardState: nil, entries: makeEntries(5...6, term: 3), mustSync: true)
        let expected = makeEntries(1...4, term: 1) + makeEntries(5...6, term: 3)
        #expect(try storage.load().entries == expected)
        #expect(try FileStorage(directory: directory.path).load().entries == expected)
        #expect(try directory.segmentNames().count == 2)
        #expect(try fileSize(directory.segmentPath(4)) == 3 * recordBytes())
    }

    @Test("Replacing from a segment's first entry removes that segment and starts a fresh one")
    func suffixReplacementAtSegmentStart() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path, segmentBytesTarget: 2 * recordBytes())
        try storage.save(hardState: nil, entries: makeEntries(1...2, term: 1), mustSync: true)
        try storage.save(hardState: nil, entries: makeEntries(3...4, term: 1), mustSync: true)
        try storage.save(hardState: nil, entries: makeEntries(3...3, term: 2), mustSync: true)
        try storage.save(hardState: nil, entries: makeEntries(1...1, term: 3), mustSync: true)
        #expect(try FileStorage(directory: directory.path).load().entries == makeEntries(1...1, term: 3))
        #expect(try directory.segmentNames() == ["log-00000000000000000001.seg"])
    }

    @Test("A log of many small segments reloads whole, one file per batch past the target")
    func manySegments() throws {
        let directory = try TemporaryDirectory()
        let model = MemoryStorage()
        let storage = try FileStorage(directory: directory.path, segmentBytesTarget: 1)
        for index in UInt64(1)...300 {
            try saveBoth(storage, model, hardState: HardState(term: 1, vote: 1, commit: index - 1),
                         entries: makeEntries(index...index, term: 1), mustSync: index % 7 == 0)
        }
        #expect(try directory.segmentNames().count == 300)
        #expect(try FileStorage(directory: directory.path).load() == model.load())
    }

    @Test("Random batches, overwrites and reopenings always reload equal to the in-memory model",
          arguments: [UInt64(1), 2, 3, 4, 5])
    func randomizedAgainstModel(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let directory = try TemporaryDirectory()
        let model = MemoryStorage()
        let target = [1, 200, 2000][Int(seed % 3)]
        var storage = try FileStorage(directory: directory.path, segmentBytesTarget: target)
        var term: UInt64 = 1
        for step in 0..<200 {
            let lastIndex = UInt64(try model.load().entries.count)
            let first = lastIndex == 0 ? 1 : UInt64.random(in: max(1, lastIndex.saturatingSubtract(5))...(lastIndex + 1), using: &random)
            if first <= lastIndex { term += 1 }
            let count = UInt64.random(in: 1...4, using: &random)
            let entries = makeEntries(first...(first + count - 1), term: term, dataBytes: Int.random(in: 0...50, using: &random))
            let hardState = Bool.random(using: &random) ? HardState(term: term, vote: 1, commit: first - 1) : nil
            try saveBoth(storage, model, hardState: hardState, entries: entries, mustSync: Bool.random(using: &random))
            if step % 25 == 24 {
                storage = try FileStorage(directory: directory.path, segmentBytesTarget: target)
                #expect(try storage.load() == model.load(), "seed \(seed) step \(step)")
            }
        }
        #expect(try FileStorage(directory: directory.path, segmentBytesTarget: target).load() == model.load())
    }
}

extension UInt64 {
    fileprivate func saturatingSubtract(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}
