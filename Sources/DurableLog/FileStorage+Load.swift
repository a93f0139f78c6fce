import Glibc
import Consensus

extension FileStorage {
    static let segmentPrefix = "log-"
    static let segmentSuffix = ".seg"
    static let segmentIndexDigits = 20
    /// The highest first index a segment file name may claim. With fewer records in a file than
    /// its bytes, every index computed from it stays below 2^63: no arithmetic overflows.
    static let segmentFirstIndexMax = PersistedState.snapshotIndexMax

    /// The file name of the segment whose first entry is `firstIndex`.
    static func segmentName(firstIndex: UInt64) -> String {
        let digits = String(firstIndex)
        return segmentPrefix + String(repeating: "0", count: segmentIndexDigits - digits.count) + digits + segmentSuffix
    }

    /// The segment files present, ordered by first index. A name that looks like a segment but
    /// is malformed is an error; other files are left alone.
    func segmentFiles() throws -> [(firstIndex: UInt64, path: String)] {
        var found: [(firstIndex: UInt64, path: String)] = []
        for name in try SystemFiles.list(directory) where name.hasPrefix(Self.segmentPrefix) && name.hasSuffix(Self.segmentSuffix) {
            let path = directory + "/" + name
            let digits = name.dropFirst(Self.segmentPrefix.count).dropLast(Self.segmentSuffix.count)
            guard digits.count == Self.segmentIndexDigits, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let firstIndex = UInt64(digits), firstIndex >= 1, firstIndex <= Self.segmentFirstIndexMax else {
                throw DurableLogError(.badSegments, path: path, reason: "malformed segment file name")
            }
            found.append((firstIndex, path))
        }
        return found.sorted { $0.firstIndex < $1.firstIndex }
    }

    /// Reads the hard state file (absent: the zero state) and removes a leftover temporary one.
    func loadHardState() throws -> HardState {
        try SystemFiles.remove(hardStateTempPath)
        guard let bytes = try SystemFiles.readAll(hardStatePath) else { return HardState() }
        return try RecordFormat.decodeHardState(bytes, path: hardStatePath)
    }

    /// Reads one segment's records into `entries`, checking each checksum and index. Damage
    /// is repaired only at the end of the last segment and only when no good record follows.
    func loadSegment(path: String, firstIndex: UInt64, isLast: Bool, into entries: inout [Entry]) throws -> Segment {
        let bytes = try SystemFiles.readAll(path) ?? []
        var segment = Segment(firstIndex: firstIndex, path: path, recordOffsets: [], sizeBytes: 0)
        var offset = 0
        while offset < bytes.count {
            switch try RecordFormat.parseRecord(bytes, at: offset, path: path) {
            case let .record(entry, end):
                let expected = firstIndex + UInt64(segment.recordOffsets.count)
                guard entry.index == expected else {
                    throw DurableLogError(.corruptRecord, path: path, offset: offset,
                                          reason: "record holds index \(entry.index), expected \(expected)")
                }
                entries.append(entry)
                segment.recordOffsets.append(offset)
                segment.recordTerms.append(entry.term)
                offset = end
            case let .damaged(reason):
                guard isLast, !RecordFormat.hasValidRecord(bytes, after: offset) else {
                    throw DurableLogError(.corruptRecord, path: path, offset: offset, reason: reason)
                }
                try cutTornTail(path: path, toBytes: offset)
                segment.sizeBytes = offset
                return segment
            }
        }
        segment.sizeBytes = bytes.count
        return segment
    }

    /// Truncates an interrupted write off the end of the last segment and makes that durable.
    private func cutTornTail(path: String, toBytes length: Int) throws {
        let fd = try SystemFiles.open(path, flags: O_WRONLY)
        defer { SystemFiles.close(fd) }
        try SystemFiles.truncate(fd, toBytes: length, path: path)
        try SystemFiles.syncAll(fd, path: path)
    }
}
