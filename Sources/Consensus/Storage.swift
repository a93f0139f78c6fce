/// What a node finds on its storage when it starts.
public struct PersistedState: Equatable, Sendable {
    /// The last hard state saved.
    public var hardState: HardState
    /// Every stored entry, contiguous, starting at index 1.
    public var entries: [Entry]

    /// Makes a persisted state.
    public init(hardState: HardState = HardState(), entries: [Entry] = []) {
        self.hardState = hardState
        self.entries = entries
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
        if let first = entries.first {
            precondition(first.index >= 1 && first.index <= UInt64(state.entries.count) + 1, "gap in stored log")
            state.entries.removeSubrange(Int(first.index - 1)...)
            state.entries.append(contentsOf: entries)
        }
        if mustSync { syncCount += 1 }
    }
}
