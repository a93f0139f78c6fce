import Consensus

/// A simulated disk behind Consensus's storage seam, modelled on `DurableLog.FileStorage`:
/// a batch's entries are written first, then its hard state; what was written but not yet
/// synced is volatile. A crash keeps the synced part and a random prefix of later writes; a
/// crash in the middle of a write tears it, leaving a prefix of its entries and the old hard
/// state (what a CRC'd log with truncation recovery gives back).
public final class SimDisk: RaftStorage {
    /// One `save` call.
    struct Write {
        var hardState: HardState?
        var entries: [Entry]
        var snapshot: Snapshot? = nil
    }

    /// What survives any crash.
    private var durable = PersistedState()
    /// Writes since the last sync, oldest first.
    private var unsynced: [Write] = []
    /// What a running node reads back: the durable part with every later write on top.
    public private(set) var current = PersistedState()
    /// Planted bug: a batch that only changes the term or vote is not synced (a skipped fsync).
    let isVoteSyncSkipped: Bool
    /// Syncs done.
    public private(set) var syncCount = 0

    /// Makes an empty disk; `isVoteSyncSkipped` plants the skipped-fsync bug.
    public init(isVoteSyncSkipped: Bool = false) {
        self.isVoteSyncSkipped = isVoteSyncSkipped
    }

    /// What a restarting node finds.
    public func load() throws -> PersistedState { current }

    /// Writes a batch; syncs everything written so far when `mustSync`. Each view is changed
    /// in place, so a save costs the size of its batch, not of the log.
    public func save(hardState: HardState?, entries: [Entry], mustSync: Bool) throws {
        let write = Write(hardState: hardState, entries: entries)
        Self.apply(write, to: &current)
        unsynced.append(write)
        let isSkipped = isVoteSyncSkipped && entries.isEmpty
        if mustSync && !isSkipped { sync() }
    }

    /// Makes a snapshot durable at once (as `FileStorage` does), applying §7's rule to the log.
    public func saveSnapshot(_ snapshot: Snapshot) throws {
        let write = Write(hardState: nil, entries: [], snapshot: snapshot)
        Self.apply(write, to: &current)
        unsynced.append(write)
        sync()
    }

    /// Nothing to do: `saveSnapshot` already dropped the entries a snapshot covers.
    public func compact(through index: UInt64) throws {}

    private func sync() {
        for write in unsynced { Self.apply(write, to: &durable) }
        unsynced.removeAll(keepingCapacity: true)
        syncCount += 1
    }

    /// A crash: keeps the durable part and a random prefix of the unsynced writes. Returns how
    /// many unsynced writes were lost.
    @discardableResult
    func crash(using random: inout SeededGenerator) -> Int {
        let kept = Int.random(in: 0...unsynced.count, using: &random)
        for write in unsynced[..<kept] { Self.apply(write, to: &durable) }
        let lost = unsynced.count - kept
        unsynced.removeAll()
        current = durable
        return lost
    }

    /// A crash in the middle of writing a snapshot, modelled on `SnapshotStore.save` (temporary
    /// file, fsync, rename): earlier unsynced writes survive as after `crash`; the snapshot
    /// survives whole only if the crash came after the rename (`chosen`, or drawn when nil),
    /// otherwise the disk keeps its previous snapshot and log. Returns whether it survived.
    @discardableResult
    func crashDuringSnapshot(_ snapshot: Snapshot, isRenamed chosen: Bool?, using random: inout SeededGenerator) -> Bool {
        crash(using: &random)
        let isRenamed = chosen ?? Bool.random(using: &random)
        if isRenamed && snapshot.meta.index > (durable.snapshot?.meta.index ?? 0) {
            Self.apply(Write(hardState: nil, entries: [], snapshot: snapshot), to: &durable)
            current = durable
        }
        return isRenamed
    }

    /// A crash in the middle of writing this batch: earlier unsynced writes survive as after
    /// `crash`, then a strict prefix of the batch's entries (the last record torn and dropped)
    /// and none of its hard state. Returns how many of the batch's entries survived.
    @discardableResult
    func crashTearing(hardState: HardState?, entries: [Entry], using random: inout SeededGenerator) -> Int {
        crash(using: &random)
        let base = durable.snapshot?.meta.index ?? 0
        guard let first = entries.first, first.index > base, first.index <= base + UInt64(durable.entries.count) + 1 else { return 0 }
        let kept = Int.random(in: 0..<entries.count, using: &random)
        Self.apply(Write(hardState: nil, entries: Array(entries[..<kept])), to: &durable)
        current = durable
        return kept
    }

    static func apply(_ write: Write, to state: inout PersistedState) {
        if let snapshot = write.snapshot { state.install(snapshot) }
        state.append(write.entries)
        if let hard = write.hardState { state.hardState = hard }
    }
}
