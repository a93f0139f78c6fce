/// The in-memory log of a node: entries after the compaction point, what is committed, what
/// has been handed to storage (`stable`) and what has been handed to the host to apply.
struct RaftLog: Sendable {
    /// Index of the last entry covered by a snapshot (0 without compaction).
    private(set) var offsetIndex: UInt64 = 0
    /// Term of the entry at `offsetIndex`.
    private(set) var offsetTerm: UInt64 = 0
    /// Entries `offsetIndex + 1 ... lastIndex`, contiguous.
    private(set) var entries: [Entry] = []
    /// Highest index known to be committed.
    private(set) var committed: UInt64 = 0
    /// Highest index handed to the host to apply.
    var applied: UInt64 = 0
    /// Highest index handed to storage.
    var stable: UInt64 = 0
    /// The configurations this log holds (and the one in force at the compaction point).
    private(set) var configurations: ConfigurationHistory

    /// `initial` is the configuration in force when neither the snapshot nor the entries say
    /// otherwise (a brand-new cluster's, or one whose snapshot records none).
    init(snapshot: SnapshotMeta?, entries: [Entry], committed: UInt64, applied: UInt64, initial: Configuration = .empty) {
        let offset = snapshot?.index ?? 0
        configurations = ConfigurationHistory(base: snapshot?.configuration ?? initial)
        offsetIndex = offset
        offsetTerm = snapshot?.term ?? 0
        self.entries = entries.filter { $0.index > offset }
        configurations.append(self.entries)
        precondition(self.entries.first.map { $0.index == offsetIndex + 1 } ?? true, "stored log does not continue the snapshot")
        stable = offsetIndex + UInt64(self.entries.count)
        self.committed = min(max(committed, offsetIndex), stable)
        self.applied = min(max(applied, offsetIndex), self.committed)
    }

    var lastIndex: UInt64 { offsetIndex + UInt64(entries.count) }
    var lastTerm: UInt64 { entries.last?.term ?? offsetTerm }
    var firstIndex: UInt64 { offsetIndex + 1 }

    /// The term of the entry at `index`, or nil when it is not held (beyond the end or compacted).
    func term(at index: UInt64) -> UInt64? {
        if index == offsetIndex { return offsetTerm }
        guard index > offsetIndex, index <= lastIndex else { return nil }
        return entries[Int(index - offsetIndex - 1)].term
    }

    func entry(at index: UInt64) -> Entry {
        precondition(index > offsetIndex && index <= lastIndex, "entry \(index) not in log")
        return entries[Int(index - offsetIndex - 1)]
    }

    func matchTerm(_ index: UInt64, _ term: UInt64) -> Bool { self.term(at: index) == term }

    /// Raft §5.4.1: a log with (`index`, `term`) at its end is at least as up to date as ours.
    func isUpToDate(lastIndex index: UInt64, term: UInt64) -> Bool {
        term > lastTerm || (term == lastTerm && index >= lastIndex)
    }

    /// Entries from `from` on, at most `maxCount` and about `maxBytes` (always at least one).
    func slice(from: UInt64, maxCount: Int, maxBytes: Int) -> [Entry] {
        guard from <= lastIndex else { return [] }
        precondition(from > offsetIndex, "slice below the compaction point")
        let start = Int(from - offsetIndex - 1)
        var end = start
        var bytes = 0
        while end < entries.count, end - start < maxCount {
            bytes += entries[end].sizeBytes
            if end > start && bytes > maxBytes { break }
            end += 1
        }
        return Array(entries[start..<end])
    }

    /// Entries in `from ... through`.
    func entries(from: UInt64, through: UInt64) -> [Entry] {
        guard from <= through else { return [] }
        return Array(entries[Int(from - offsetIndex - 1)...Int(through - offsetIndex - 1)])
    }

    /// Appends entries that continue the log or replace a suffix that is not committed.
    mutating func append(_ newEntries: [Entry]) {
        guard let first = newEntries.first else { return }
        precondition(first.index > committed, "truncating committed entry \(first.index)")
        precondition(first.index >= firstIndex && first.index <= lastIndex + 1, "gap before entry \(first.index)")
        entries.removeSubrange(Int(first.index - offsetIndex - 1)...)
        entries.append(contentsOf: newEntries)
        configurations.truncate(from: first.index)
        configurations.append(newEntries)
        stable = min(stable, first.index - 1)
    }

    /// The first index at which `newEntries` disagree with the log or extend past it; 0 if all match.
    func findConflict(_ newEntries: [Entry]) -> UInt64 {
        for entry in newEntries where !matchTerm(entry.index, entry.term) {
            return entry.index
        }
        return 0
    }

    /// The largest index at or below `index` whose term is at most `term` (etcd's
    /// findConflictByTerm), with that term: where the logs may agree.
    func findConflictByTerm(index: UInt64, term: UInt64) -> (index: UInt64, term: UInt64) {
        var i = min(index, lastIndex)
        // Below the compaction point the term is unknown: the caller sends a snapshot.
        if i < offsetIndex { return (i, 0) }
        while i > offsetIndex {
            let t = self.term(at: i)!
            if t <= term { return (i, t) }
            i -= 1
        }
        return (offsetIndex, offsetTerm)
    }

    /// AppendEntries receiver rules 2-5: returns the last new index, or nil on a mismatch.
    mutating func maybeAppend(prevIndex: UInt64, prevTerm: UInt64, leaderCommit: UInt64, newEntries: [Entry]) -> UInt64? {
        guard matchTerm(prevIndex, prevTerm) else { return nil }
        let lastNewIndex = prevIndex + UInt64(newEntries.count)
        let conflict = findConflict(newEntries)
        if conflict != 0 {
            append(Array(newEntries[Int(conflict - prevIndex - 1)...]))
        }
        commit(to: min(leaderCommit, lastNewIndex))
        return lastNewIndex
    }

    /// Replaces the whole log with a snapshot's end point (a follower installing a snapshot
    /// whose last entry it does not hold): everything through it is committed and applied.
    mutating func restore(_ meta: SnapshotMeta, initial: Configuration) {
        precondition(meta.index > committed, "restoring a snapshot behind the commit index")
        entries.removeAll()
        configurations.restore(meta.configuration ?? initial)
        offsetIndex = meta.index
        offsetTerm = meta.term
        committed = meta.index
        applied = meta.index
        stable = meta.index
    }

    /// Drops the entries through `index`, which a snapshot covers and which are applied.
    mutating func compact(through index: UInt64) {
        guard index > offsetIndex else { return }
        precondition(index <= applied, "compacting entry \(index) that is not applied")
        let newTerm = term(at: index)!
        entries.removeSubrange(..<Int(index - offsetIndex))
        configurations.compact(through: index)
        offsetIndex = index
        offsetTerm = newTerm
    }

    /// Raises the commit index; it never goes down and never passes the last index.
    mutating func commit(to index: UInt64) {
        guard index > committed else { return }
        precondition(index <= lastIndex, "commit \(index) beyond last index \(lastIndex)")
        committed = index
    }

    /// Entries committed but not yet handed to the host, at most `maxCount`.
    func nextEntriesToApply(maxCount: Int) -> [Entry] {
        guard committed > applied else { return [] }
        let through = min(committed, applied + UInt64(maxCount))
        return entries(from: applied + 1, through: through)
    }

    func checkInvariants() {
        precondition(applied <= committed, "applied \(applied) > committed \(committed)")
        precondition(committed <= lastIndex, "committed \(committed) > last \(lastIndex)")
        precondition(stable <= lastIndex, "stable \(stable) > last \(lastIndex)")
        precondition(applied <= stable, "applied \(applied) > stable \(stable)")
        precondition(offsetIndex <= applied, "compacted \(offsetIndex) beyond applied \(applied)")
        var expected = offsetIndex + 1
        var previousTerm = offsetTerm
        for entry in entries {
            precondition(entry.index == expected, "log not contiguous at \(expected)")
            precondition(entry.term >= previousTerm, "term goes down at \(entry.index)")
            expected += 1
            previousTerm = entry.term
        }
    }
}
