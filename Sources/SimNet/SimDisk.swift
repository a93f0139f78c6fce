import Consensus
import SeededRandom

/// A simulated disk behind Consensus's storage seam, following `DurableLog.FileStorage` write
/// by write, so that what survives a crash is what `FileStorage` has made durable:
/// - a batch's entries are one write followed by `fdatasync` (every entry batch syncs), so
///   between saves nothing of the log is volatile; a crash *during* a save keeps a prefix of
///   its records (the torn last record is cut on load) and none of its hard state;
/// - a stored suffix replaced by new entries is cut and the cut synced before the new records
///   are written (`truncateSuffix`); the planted bug `unsynced-truncation` skips that sync, and
///   then a crash during the next write can leave new records followed by old ones;
/// - the hard state is written (tmp, fsync, rename) only when term or vote change: a change of
///   the commit index alone is never stored (the planted bug `skip-vote-fsync` also leaves a
///   term/vote-only change unsynced);
/// - snapshots are files written tmp + fsync + rename, the newest two kept; a restart loads
///   the newest and keeps the log only if it continues that snapshot.
public final class SimDisk: RaftStorage {
    /// What the platters hold: survives any crash.
    private var durable = PersistedState()
    /// Snapshot files on disk, oldest first (at most two, as `SnapshotStore` keeps).
    private var snapshotFiles: [Snapshot] = []
    /// A term/vote change not yet synced (planted bug only).
    private var unsyncedHardState: HardState?
    /// The hard state last written (commit-only changes are not written).
    private var writtenHardState = HardState()
    /// The old entries a truncation removed without syncing it (planted bug only), until the
    /// next sync makes the cut durable.
    private var unsyncedCutTail: [Entry] = []
    /// Planted bug: a batch that only changes the term or vote is not synced.
    let isVoteSyncSkipped: Bool
    /// Planted bug: the cut of a replaced suffix is not synced before new records go in.
    let isTruncationSyncSkipped: Bool
    /// Syncs done.
    public private(set) var syncCount = 0
    /// Suffixes cut (a follower's conflicting entries replaced).
    public private(set) var truncationCount = 0
    /// Whether a suffix was cut since the last crash (coverage: "truncation before a crash").
    public private(set) var hasTruncatedSinceCrash = false

    /// Makes an empty disk with the given planted bugs.
    public init(isVoteSyncSkipped: Bool = false, isTruncationSyncSkipped: Bool = false) {
        self.isVoteSyncSkipped = isVoteSyncSkipped
        self.isTruncationSyncSkipped = isTruncationSyncSkipped
    }

    /// What the running node has written (the durable state plus an unsynced hard state).
    public var current: PersistedState {
        var state = durable
        if let hard = unsyncedHardState { state.hardState = hard }
        return state
    }

    /// What a restarting node finds: the newest snapshot, the log if it continues it, the hard
    /// state last made durable.
    public func load() throws -> PersistedState { durable }

    /// Saves a batch the way `FileStorage.save` does.
    public func save(hardState: HardState?, entries: [Entry], mustSync: Bool) throws {
        if !entries.isEmpty { write(entries, mustSync: mustSync) }
        // As FileStorage: a change of term, vote or witness mark is written; commit alone is not.
        guard let hardState, hardState.term != writtenHardState.term || hardState.vote != writtenHardState.vote
            || hardState.witnessMark != writtenHardState.witnessMark else { return }
        writtenHardState = hardState
        if isVoteSyncSkipped && entries.isEmpty {
            unsyncedHardState = hardState
        } else {
            durable.hardState = hardState
            unsyncedHardState = nil
            syncCount += 1
        }
    }

    private func write(_ entries: [Entry], mustSync: Bool) {
        let first = entries[0].index
        let last = durable.baseIndex + UInt64(durable.entries.count)
        if first <= last {
            truncationCount += 1
            hasTruncatedSinceCrash = true
            let cut = Array(durable.entries[Int(first - durable.baseIndex - 1)...])
            if isTruncationSyncSkipped { unsyncedCutTail = cut }
        }
        durable.append(entries)
        if mustSync {
            unsyncedCutTail = []
            if let hard = unsyncedHardState { durable.hardState = hard }
            unsyncedHardState = nil
            syncCount += 1
        }
    }

    /// Installs a snapshot from the leader (`FileStorage.saveSnapshot`): the file is durable,
    /// and the log keeps the entries after it only if it holds its last entry (§7).
    public func saveSnapshot(_ snapshot: Snapshot) throws {
        addSnapshotFile(snapshot)
        durable.install(snapshot)
        syncCount += 1
    }

    /// Writes a locally taken snapshot's file (the snapshot writer's `SnapshotStore.write`);
    /// the log is compacted later, by `compact(through:)`.
    public func writeSnapshotFile(_ snapshot: Snapshot) {
        addSnapshotFile(snapshot)
        syncCount += 1
        reconcileWithNewestSnapshot()
    }

    /// Nothing to do: entries a snapshot covers are never loaded (`load` starts after it).
    public func compact(through index: UInt64) throws {}

    private func addSnapshotFile(_ snapshot: Snapshot) {
        snapshotFiles.removeAll { $0.meta.index == snapshot.meta.index }
        snapshotFiles.append(snapshot)
        snapshotFiles.sort { $0.meta.index < $1.meta.index }
        if snapshotFiles.count > 2 { snapshotFiles.removeFirst(snapshotFiles.count - 2) }
    }

    /// The loaded view uses the newest snapshot file, as `FileStorage.load` does: the log stays
    /// only if it holds that snapshot's last entry (or starts right after it).
    private func reconcileWithNewestSnapshot() {
        guard let newest = snapshotFiles.last, newest.meta.index > durable.baseIndex else { return }
        durable.install(newest)
    }

    /// A crash between saves: nothing of the log is volatile; an unsynced hard state is lost.
    /// Returns how many unsynced writes were lost.
    @discardableResult
    func crash(using random: inout SeededGenerator) -> Int {
        let lost = unsyncedHardState == nil ? 0 : 1
        unsyncedHardState = nil
        writtenHardState = durable.hardState
        unsyncedCutTail = []
        hasTruncatedSinceCrash = false
        return lost
    }

    /// A crash in the middle of saving this batch: a strict prefix of its entries survives
    /// (the torn record is cut on load) and none of its hard state. If the batch cut a suffix
    /// without syncing the cut (planted bug), the old records past the new ones survive too.
    /// Returns how many of the batch's entries survived.
    @discardableResult
    func crashTearing(hardState: HardState?, entries: [Entry], using random: inout SeededGenerator) -> Int {
        let before = durable
        let kept = entries.isEmpty ? 0 : Int.random(in: 0..<entries.count, using: &random)
        var cutTail: [Entry] = []
        if let first = entries.first, first.index <= before.baseIndex + UInt64(before.entries.count) {
            cutTail = Array(before.entries[Int(first.index - before.baseIndex - 1)...])
            if isTruncationSyncSkipped {
                truncationCount += 1
                hasTruncatedSinceCrash = true
            }
        }
        durable = before
        if let first = entries.first {
            if !isTruncationSyncSkipped || kept == 0 {
                // The cut was synced first (or nothing was written over the old records).
                durable.append(Array(entries[..<kept]))
                if kept == 0 && !isTruncationSyncSkipped && !cutTail.isEmpty { durable.entries.removeLast(cutTail.count) }
            } else {
                // The cut was never synced: new records were written over the start of the old
                // ones, and the old records beyond them are still there.
                let written = Array(entries[..<kept])
                let survivors = cutTail.filter { $0.index >= first.index + UInt64(kept) }
                durable.append(written + survivors)
            }
        }
        crash(using: &random)
        return kept
    }

    /// A crash in the middle of writing a snapshot (temporary file, fsync, rename): the
    /// snapshot survives whole only if the crash came after the rename (`chosen`, or drawn when
    /// nil); a restart then loads it. Returns whether it survived.
    @discardableResult
    func crashDuringSnapshot(_ snapshot: Snapshot, isRenamed chosen: Bool?, using random: inout SeededGenerator) -> Bool {
        crash(using: &random)
        let isRenamed = chosen ?? Bool.random(using: &random)
        if isRenamed {
            addSnapshotFile(snapshot)
            reconcileWithNewestSnapshot()
        }
        return isRenamed
    }
}
