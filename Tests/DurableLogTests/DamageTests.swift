import Consensus
import DurableLog
import Testing

@Suite("FileStorage under damage")
struct DamageTests {
    @Test("A write cut at every byte of the last record loses only that record, and appending still works",
          arguments: [1 << 20, 1])
    func tornTailAtEveryOffset(segmentBytesTarget: Int) throws {
        let saved = makeEntries(1...3, term: 1)
        let recordSize = recordBytes()
        for cut in 0..<recordSize {
            let directory = try TemporaryDirectory()
            let storage = try FileStorage(directory: directory.path, segmentBytesTarget: segmentBytesTarget)
            for entry in saved { try storage.save(hardState: nil, entries: [entry], mustSync: true) }
            let lastPath = segmentBytesTarget == 1 ? directory.segmentPath(3) : directory.segmentPath(1)
            let lastRecordStart = try fileSize(lastPath) - recordSize
            try truncateFile(lastPath, toBytes: lastRecordStart + cut)

            let reloaded = try FileStorage(directory: directory.path, segmentBytesTarget: segmentBytesTarget)
            #expect(try reloaded.load().entries == Array(saved.prefix(2)), "cut at \(cut)")
            #expect(try fileSize(lastPath) == lastRecordStart, "torn bytes removed from disk, cut at \(cut)")

            let replacement = makeEntries(3...4, term: 2)
            try reloaded.save(hardState: nil, entries: replacement, mustSync: true)
            let final = try FileStorage(directory: directory.path, segmentBytesTarget: segmentBytesTarget).load()
            #expect(final.entries == Array(saved.prefix(2)) + replacement, "cut at \(cut)")
        }
    }

    @Test("A last record with a bad checksum and nothing valid after it is cut away")
    func corruptLastRecordIsTorn() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        try storage.save(hardState: nil, entries: makeEntries(1...3, term: 1), mustSync: true)
        try flipBit(directory.segmentPath(1), atByte: 2 * recordBytes() + 20)
        try appendBytes(directory.segmentPath(1), [UInt8](repeating: 0, count: 4096))
        #expect(try FileStorage(directory: directory.path).load().entries == makeEntries(1...2, term: 1))
        #expect(try fileSize(directory.segmentPath(1)) == 2 * recordBytes())
    }

    @Test("A flipped bit in a record of an earlier segment is an error naming the file and offset")
    func flippedBitInEarlierSegment() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path, segmentBytesTarget: 3 * recordBytes())
        try storage.save(hardState: nil, entries: makeEntries(1...3, term: 1), mustSync: true)
        try storage.save(hardState: nil, entries: makeEntries(4...6, term: 1), mustSync: true)
        try flipBit(directory.segmentPath(1), atByte: recordBytes() + 8 + 21 + 3)  // a data byte: only the CRC sees it
        let error = try #require(throws: DurableLogError.self) { try FileStorage(directory: directory.path).load() }
        #expect(error.kind == .corruptRecord)
        #expect(error.path == directory.segmentPath(1))
        #expect(error.offset == recordBytes())
        #expect(error.description.contains("log-00000000000000000001.seg at byte \(recordBytes())"))
    }

    @Test("A flipped bit in a record followed by good records of the last segment is an error, not a torn tail")
    func flippedBitMidLastSegment() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        try storage.save(hardState: nil, entries: makeEntries(1...5, term: 1), mustSync: true)
        for byte in [recordBytes() + 1, recordBytes() + 6, recordBytes() + 20] {
            try flipBit(directory.segmentPath(1), atByte: byte)
            let error = try #require(throws: DurableLogError.self) { try FileStorage(directory: directory.path).load() }
            #expect(error.kind == .corruptRecord, "bit flipped at byte \(byte)")
            #expect(error.path == directory.segmentPath(1))
            #expect(error.offset == recordBytes())
            try flipBit(directory.segmentPath(1), atByte: byte)
        }
        #expect(try fileSize(directory.segmentPath(1)) == 5 * recordBytes())
    }

    @Test("A flipped bit or a cut in the hard state file is an error naming that file")
    func damagedHardState() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        try storage.save(hardState: HardState(term: 3, vote: 1, commit: 0), entries: [], mustSync: true)
        try flipBit(directory.hardStatePath, atByte: 9)
        let flipped = try #require(throws: DurableLogError.self) { try FileStorage(directory: directory.path).load() }
        #expect(flipped.kind == .corruptHardState)
        #expect(flipped.path == directory.hardStatePath)
        #expect(flipped.description.contains("hardstate"))

        try flipBit(directory.hardStatePath, atByte: 9)
        #expect(try FileStorage(directory: directory.path).load().hardState == HardState(term: 3, vote: 1, commit: 0))
        try truncateFile(directory.hardStatePath, toBytes: 31)
        let cut = try #require(throws: DurableLogError.self) { try FileStorage(directory: directory.path).load() }
        #expect(cut.kind == .corruptHardState)
        #expect(cut.path == directory.hardStatePath)
    }

    @Test("A missing middle segment is an error naming the segment after the gap")
    func missingSegment() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path, segmentBytesTarget: 1)
        for index in UInt64(1)...3 { try storage.save(hardState: nil, entries: makeEntries(index...index, term: 1), mustSync: true) }
        try FileManagerHelpers.remove(directory.segmentPath(2))
        let error = try #require(throws: DurableLogError.self) { try FileStorage(directory: directory.path).load() }
        #expect(error.kind == .badSegments)
        #expect(error.path == directory.segmentPath(3))
    }

    @Test("A record whose length runs past the end of an earlier segment is an error, not a torn tail")
    func shortRecordInEarlierSegment() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path, segmentBytesTarget: 2 * recordBytes())
        try storage.save(hardState: nil, entries: makeEntries(1...2, term: 1), mustSync: true)
        try storage.save(hardState: nil, entries: makeEntries(3...4, term: 1), mustSync: true)
        try truncateFile(directory.segmentPath(1), toBytes: 2 * recordBytes() - 3)
        let error = try #require(throws: DurableLogError.self) { try FileStorage(directory: directory.path).load() }
        #expect(error.kind == .corruptRecord)
        #expect(error.path == directory.segmentPath(1))
        #expect(error.offset == recordBytes())
    }
}
