/// What a node finds on its storage when it starts.
public struct PersistedState: Equatable, Sendable {
    /// The last hard state saved.
    public var hardState: HardState
    /// The newest snapshot, if any.
    public var snapshot: Snapshot?
    /// Every stored entry after the snapshot (or from index 1 without one), contiguous.
    public var entries: [Entry]

    /// Makes a persisted state.
    public init(hardState: HardState = HardState(), snapshot: Snapshot? = nil, entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }
}

/// Why a node refused the state its storage holds (a damaged or forged disk).
public struct StoredStateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong with the stored state.
    public var reason: String
    public var description: String { reason }
}

extension PersistedState {
    /// The highest snapshot index a node starts from: far above any reachable log, low enough
    /// that index arithmetic on it cannot overflow.
    public static let snapshotIndexMax: UInt64 = 1 << 62

    /// The index the stored entries continue from: the snapshot's last index, or 0.
    public var baseIndex: UInt64 { snapshot?.meta.index ?? 0 }

    /// Why a node cannot start from this state, or nil: the entries after the snapshot must
    /// continue it one index at a time with terms that never go down, configuration entries
    /// must hold configurations, and a witness mark is of no later term than the hard state.
    public var violation: String? {
        guard baseIndex <= Self.snapshotIndexMax else { return "snapshot index \(baseIndex) above the maximum" }
        if let configuration = snapshot?.meta.configuration, let violation = configuration.entryViolation {
            return "snapshot configuration: \(violation)"
        }
        guard hardState.witnessMark.term <= hardState.term else { return "witness mark of a term after the stored term" }
        var expected = baseIndex + 1
        var previousTerm = snapshot?.meta.term ?? 0
        for entry in entries where entry.index > baseIndex {
            guard entry.index == expected else { return "stored entry \(entry.index) where \(expected) was expected" }
            guard entry.term >= previousTerm else { return "stored entry \(entry.index) has a lower term than the one before it" }
            if entry.kind == .configuration, (try? Configuration(decoding: entry.data)) == nil {
                return "stored entry \(entry.index) is not a valid configuration"
            }
            // At most one per stored entry past an index of at most 2^62: no overflow.
            expected += 1
            previousTerm = entry.term
        }
        return nil
    }

    /// Applies a saved batch of entries: they replace every stored entry from their first index.
    public mutating func append(_ newEntries: [Entry]) {
        guard let first = newEntries.first else { return }
        precondition(first.index > baseIndex && first.index <= baseIndex + UInt64(entries.count) + 1, "gap in stored log")
        entries.removeSubrange(Int(first.index - baseIndex - 1)...)
        entries.append(contentsOf: newEntries)
    }

    /// Applies a saved snapshot as `RaftStorage.saveSnapshot` specifies: the entries after it
    /// stay when the log holds its last entry, otherwise the log is discarded.
    public mutating func install(_ newSnapshot: Snapshot) {
        if let snapshot, snapshot.meta.index == newSnapshot.meta.index, snapshot.meta.term == newSnapshot.meta.term {
            self.snapshot = newSnapshot // the log continues its last entry: every entry stays
            return
        }
        let position = newSnapshot.meta.index > baseIndex ? Int(newSnapshot.meta.index - baseIndex - 1) : -1
        if position >= 0, position < entries.count, entries[position].term == newSnapshot.meta.term {
            entries.removeSubrange(...position)
        } else {
            entries.removeAll()
        }
        snapshot = newSnapshot
    }
}

/// The durable home of a node's hard state and log: the seam between the pure core and a disk.
/// `MemoryStorage` serves tests; `DurableLog.FileStorage` serves the real tracker; SimNet has
/// its own simulated disk.
public protocol RaftStorage: AnyObject {
    /// Reads everything saved so far. A damaged store throws an error that names the damage.
    func load() throws -> PersistedState

    /// Saves a batch from a `Ready`: `entries` are contiguous and their first index is at most
    /// one past the stored last index; any stored entry at or after it is replaced. When
    /// `mustSync` is true, the batch is on stable storage before this returns.
    func save(hardState: HardState?, entries: [Entry], mustSync: Bool) throws

    /// Makes `snapshot` durable as the newest snapshot. If the stored log holds the snapshot's
    /// last entry (same index and term) the entries after it stay (Raft §7); otherwise every
    /// stored entry is discarded and the log continues at `snapshot.meta.index + 1`.
    func saveSnapshot(_ snapshot: Snapshot) throws

    /// Discards stored entries up to `index` (which a durable snapshot covers). A store may
    /// keep some of them (whole segments); `load` never returns entries a snapshot covers.
    func compact(through index: UInt64) throws
}

/// Storage in memory, for tests and benchmarks. It loses nothing because it never restarts.
public final class MemoryStorage: RaftStorage {
    private var state = PersistedState()
    /// How many batches asked for an fsync.
    public private(set) var syncCount = 0

    /// Makes an empty store.
    public init() {}

    public func load() throws -> PersistedState { state }

    public func save(hardState: HardState?, entries: [Entry], mustSync: Bool) throws {
        if let hardState { state.hardState = hardState }
        state.append(entries)
        if mustSync { syncCount += 1 }
    }

    public func saveSnapshot(_ snapshot: Snapshot) throws {
        state.install(snapshot)
        syncCount += 1
    }

    public func compact(through index: UInt64) throws {
        // Entries covered by the snapshot were already dropped by saveSnapshot.
    }
}
