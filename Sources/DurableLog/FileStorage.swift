import Glibc
import Consensus

/// Raft's durable storage in a directory: the log in append-only segment files
/// `log-<first index, 20 digits>.seg` of CRC32C-checked records, and the hard state in the file
/// `hardstate`, replaced atomically (write `hardstate.tmp`, fsync, rename, fsync the directory).
///
/// Crash behaviour: `load()` cuts away a torn last record of the last segment (the only place
/// an interrupted write can land) and reports any other damage as a `DurableLogError` naming
/// the file and byte offset. After a failed write or sync the store refuses further work
/// (`DurableLogError.Kind.unusable`): the page cache may no longer match the disk.
///
/// Thread safety: not `Sendable`; use one instance from one thread at a time, and give each
/// directory to one instance in one process. Calls block on disk I/O and fsync, so run them on
/// a dedicated thread, never on the cooperative pool.
public final class FileStorage: RaftStorage {
    /// Default size at which the current segment is closed and a new one started.
    public static let defaultSegmentBytesTarget = 64 << 20

    /// One segment file and where each of its records starts.
    struct Segment {
        let firstIndex: UInt64
        let path: String
        /// Byte offset of each record; record k holds entry `firstIndex + k`.
        var recordOffsets: [Int]
        /// Term of each record's entry (to check a snapshot's last entry without reading).
        var recordTerms: [UInt64] = []
        var sizeBytes: Int

        /// The index of its last entry, or `firstIndex - 1` when it is empty.
        var lastIndex: UInt64 { firstIndex + UInt64(recordOffsets.count) - 1 }
    }

    /// The directory holding the log and hard state.
    public let directory: String
    /// Segment size after which the next batch starts a new segment.
    public let segmentBytesTarget: Int

    let directoryFD: Int32
    var segments: [Segment] = []
    /// Descriptor of the last segment (the only one written to), or -1.
    var currentFD: Int32 = -1
    /// Whether the last segment has writes not yet fdatasync'd.
    var hasUnsyncedWrites = false
    /// The hard state last written (term and vote are always durable; commit may not be).
    var writtenHardState = HardState()
    var isLoaded = false
    /// The first write or sync failure; once set, every call throws.
    var failure: DurableLogError?

    /// The newest snapshot's index: the log continues after it.
    var baseIndex: UInt64 = 0
    let snapshots: SnapshotStore

    var hardStatePath: String { directory + "/hardstate" }
    var hardStateTempPath: String { directory + "/hardstate.tmp" }
    var lastIndex: UInt64 { max(segments.last?.lastIndex ?? 0, baseIndex) }

    /// Opens (creating if missing, with its parents) the store in `directory`. Nothing is read
    /// until `load()`; a `save` before `load()` loads first.
    public init(directory: String, segmentBytesTarget: Int = defaultSegmentBytesTarget) throws {
        precondition(segmentBytesTarget > 0, "segmentBytesTarget must be positive")
        precondition(!directory.isEmpty, "directory must be named")
        self.directory = directory
        self.segmentBytesTarget = segmentBytesTarget
        if try SystemFiles.makeDirectories(directory) {
            let parent = Self.parentDirectory(of: directory)
            let parentFD = try SystemFiles.open(parent, flags: O_RDONLY | O_DIRECTORY)
            defer { SystemFiles.close(parentFD) }
            try SystemFiles.syncAll(parentFD, path: parent)
        }
        directoryFD = try SystemFiles.open(directory, flags: O_RDONLY | O_DIRECTORY)
        snapshots = SnapshotStore(directory: directory)
    }

    deinit {
        if currentFD >= 0 { SystemFiles.close(currentFD) }
        SystemFiles.close(directoryFD)
    }

    /// Reads the hard state and every entry, verifying checksums and index continuity, and
    /// repairs a torn tail. Throws a `DurableLogError` naming the file (and offset) of any
    /// other damage; a missing hard state reads as the zero state.
    public func load() throws -> PersistedState {
        try checkUsable()
        isLoaded = false
        let hardState = try loadHardState()
        let snapshot = try snapshots.loadNewest().snapshot
        baseIndex = snapshot?.meta.index ?? 0
        var entries: [Entry] = []
        let found = try segmentFiles()
        closeCurrentSegment()
        segments = []
        for (position, (firstIndex, path)) in found.enumerated() {
            let expected = (segments.last?.lastIndex ?? 0) + 1
            let isContinuing = position == 0 ? (firstIndex == 1 || (snapshot != nil && firstIndex <= baseIndex + 1)) : firstIndex == expected
            guard isContinuing else {
                throw DurableLogError(.badSegments, path: path,
                    reason: "segment starts at index \(firstIndex), expected \(position == 0 ? 1 : expected): a segment is missing or overlaps")
            }
            let isLast = position == found.count - 1
            let segment = try loadSegment(path: path, firstIndex: firstIndex, isLast: isLast, into: &entries)
            segments.append(segment)
        }
        if let snapshot {
            try reconcile(with: snapshot.meta)
            if segments.isEmpty { entries = [] }
        }
        if let last = segments.last { currentFD = try SystemFiles.open(last.path, flags: O_RDWR) }
        hasUnsyncedWrites = false
        writtenHardState = hardState
        isLoaded = true
        return PersistedState(hardState: hardState, snapshot: snapshot, entries: entries.filter { $0.index > baseIndex })
    }

    /// Makes the log continue the snapshot: a stored log that does not hold the snapshot's last
    /// entry (a follower's log replaced by an installed snapshot) is discarded whole.
    func reconcile(with meta: SnapshotMeta) throws {
        if storedTerm(at: meta.index) == meta.term { return } // the log holds the snapshot's last entry
        if segments.first?.firstIndex == meta.index + 1 { return } // the log starts right after it
        try removeAllSegments() // it ends before the snapshot, or conflicts with it
    }

    /// The term of the stored entry at `index`, if a segment holds it.
    func storedTerm(at index: UInt64) -> UInt64? {
        for segment in segments where segment.firstIndex <= index && index <= segment.lastIndex {
            return segment.recordTerms[Int(index - segment.firstIndex)]
        }
        return nil
    }

    /// Deletes every segment file (the log restarts after `baseIndex`).
    func removeAllSegments() throws {
        closeCurrentSegment()
        for segment in segments.reversed() { try SystemFiles.remove(segment.path) }
        segments = []
        try SystemFiles.syncAll(directoryFD, path: directory)
        hasUnsyncedWrites = false
    }

    public func saveSnapshot(_ snapshot: Snapshot) throws {
        try checkUsable()
        if !isLoaded { _ = try load() }
        do {
            try snapshots.write(snapshot)
            let meta = snapshot.meta
            if storedTerm(at: meta.index) == meta.term {
                baseIndex = max(baseIndex, meta.index)
                try compact(through: meta.index)
            } else {
                try removeAllSegments()
                baseIndex = max(baseIndex, meta.index)
            }
        } catch let error as DurableLogError {
            failure = error
            throw error
        }
    }

    /// Deletes the segments whose every entry is at or below `index`, oldest first; the
    /// segment being written is kept.
    public func compact(through index: UInt64) throws {
        try checkUsable()
        var removed = false
        while segments.count > 1, segments[0].lastIndex <= index {
            try SystemFiles.remove(segments[0].path)
            segments.removeFirst()
            removed = true
        }
        if removed { try SystemFiles.syncAll(directoryFD, path: directory) }
    }

    /// Saves a batch: replaces any stored suffix from the first new entry's index, appends the
    /// entries with one write, then writes the hard state if it changed. With `mustSync`, one
    /// `fdatasync` makes the whole batch durable before this returns. A hard state that differs
    /// from the last written one only in `commit` is replaced without fsyncs when `mustSync`
    /// is false; term, vote and witness mark changes are always made durable.
    public func save(hardState: HardState?, entries: [Entry], mustSync: Bool) throws {
        try checkUsable()
        if !isLoaded { _ = try load() }
        do {
            if !entries.isEmpty { try append(entries, mustSync: mustSync) }
            // A change of commit alone is not written: the commit index is re-learned from the
            // leader after a restart, and writing it would cost a file replace per batch. It
            // goes to disk with the next change of term, vote or witness mark.
            if let hardState, hardState.term != writtenHardState.term || hardState.vote != writtenHardState.vote
                || hardState.witnessMark != writtenHardState.witnessMark {
                try writeHardState(hardState, isDurable: true)
            }
        } catch let error as DurableLogError {
            failure = error
            throw error
        }
    }

    func checkUsable() throws {
        if let failure {
            throw DurableLogError(.unusable, path: directory, reason: "an earlier write or sync failed (\(failure))")
        }
    }

    func closeCurrentSegment() {
        if currentFD >= 0 { SystemFiles.close(currentFD) }
        currentFD = -1
    }

    static func parentDirectory(of path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }
}
