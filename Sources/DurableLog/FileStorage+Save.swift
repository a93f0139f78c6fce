import Glibc
import BinaryCoding
import Consensus

extension FileStorage {
    /// Appends a contiguous batch after replacing any stored suffix it overlaps, as one write.
    func append(_ entries: [Entry], mustSync: Bool) throws {
        let first = entries[0].index
        precondition(first > baseIndex && first <= lastIndex + 1, "gap between the stored log and the new entries")
        for (position, entry) in entries.enumerated() {
            precondition(entry.index == first + UInt64(position), "entries in a batch are not contiguous")
        }
        if first <= lastIndex { try truncateSuffix(from: first) }
        try startSegmentIfNeeded(firstIndex: first)
        let base = segments[segments.count - 1].sizeBytes
        var writer = ByteWriter(capacity: entries.reduce(0) { $0 + $1.sizeBytes + 12 })
        var offsets: [Int] = []
        offsets.reserveCapacity(entries.count)
        for entry in entries {
            offsets.append(base + writer.bytes.count)
            RecordFormat.appendRecord(entry, to: &writer)
        }
        segments[segments.count - 1].recordTerms.append(contentsOf: entries.map(\.term))
        let path = segments[segments.count - 1].path
        try SystemFiles.writeAll(currentFD, writer.bytes, at: base, path: path)
        segments[segments.count - 1].recordOffsets.append(contentsOf: offsets)
        segments[segments.count - 1].sizeBytes = base + writer.bytes.count
        hasUnsyncedWrites = true
        if mustSync {
            try SystemFiles.syncData(currentFD, path: path)
            hasUnsyncedWrites = false
        }
    }

    /// Removes every stored entry at or after `index`: deletes whole segments from the last
    /// backwards (so a crash leaves a prefix of the old log), then cuts the one containing it.
    func truncateSuffix(from index: UInt64) throws {
        var hasDeleted = false
        while let last = segments.last, last.firstIndex >= index {
            closeCurrentSegment()
            try SystemFiles.remove(last.path)
            segments.removeLast()
            hasDeleted = true
        }
        if hasDeleted {
            try SystemFiles.syncAll(directoryFD, path: directory)
            hasUnsyncedWrites = false
            if let last = segments.last { currentFD = try SystemFiles.open(last.path, flags: O_RDWR) }
        }
        guard let last = segments.last, last.lastIndex >= index else { return }
        let kept = Int(index - last.firstIndex)
        let newSize = last.recordOffsets[kept]
        try SystemFiles.truncate(currentFD, toBytes: newSize, path: last.path)
        // The cut is made durable before new records go where the old ones were: otherwise a
        // crash could keep the new records and, after them, the old ones (terms going down).
        try SystemFiles.syncData(currentFD, path: last.path)
        hasUnsyncedWrites = false
        segments[segments.count - 1].recordOffsets.removeSubrange(kept...)
        segments[segments.count - 1].recordTerms.removeSubrange(kept...)
        segments[segments.count - 1].sizeBytes = newSize
    }

    /// Starts a segment for `firstIndex` when there is none or the current one has reached the
    /// target size. The old segment is synced first so only the last can hold unsynced data.
    func startSegmentIfNeeded(firstIndex: UInt64) throws {
        if let last = segments.last, last.sizeBytes < segmentBytesTarget { return }
        if let last = segments.last, hasUnsyncedWrites {
            try SystemFiles.syncData(currentFD, path: last.path)
        }
        closeCurrentSegment()
        let path = directory + "/" + Self.segmentName(firstIndex: firstIndex)
        currentFD = try SystemFiles.open(path, flags: O_RDWR | O_CREAT | O_EXCL)
        try SystemFiles.syncAll(directoryFD, path: directory)
        segments.append(Segment(firstIndex: firstIndex, path: path, recordOffsets: [], sizeBytes: 0))
        hasUnsyncedWrites = false
    }

    /// Replaces the hard state file through `hardstate.tmp` and a rename. When `isDurable`,
    /// the temporary file and then the directory are fsynced, so after a crash the file holds
    /// either the old or the new state.
    func writeHardState(_ state: HardState, isDurable: Bool) throws {
        let fd = try SystemFiles.open(hardStateTempPath, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try SystemFiles.writeAll(fd, RecordFormat.encodeHardState(state), at: 0, path: hardStateTempPath)
            if isDurable { try SystemFiles.syncAll(fd, path: hardStateTempPath) }
        } catch {
            SystemFiles.close(fd)
            throw error
        }
        SystemFiles.close(fd)
        try SystemFiles.rename(hardStateTempPath, to: hardStatePath)
        if isDurable { try SystemFiles.syncAll(directoryFD, path: directory) }
        writtenHardState = state
    }
}
