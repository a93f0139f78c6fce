/// The last result of each deduplication key, for exactly-once application (Raft dissertation
/// §6.3). `ExactlyOnce.swift` says which key a command has and how its sequence is judged.
///
/// Every applied command gets a stamp, its position in log order. When more than `capacity`
/// keys are remembered, the one whose last request is oldest in log order is forgotten:
/// deterministic on every replica. A forgotten key whose request is retried would have it
/// applied again, so the capacity should far exceed the keys active at once.
struct ClientTable<Key: Hashable & Comparable & Sendable>: Sendable {
    struct Entry: Equatable, Sendable {
        var sequence: UInt64
        var result: TrackerResult
        var lastUsedStamp: UInt64
        /// Where in `usage` the pair of `lastUsedStamp` is: lets the invariant check visit the
        /// entries instead of looking every queued pair up. Not part of the entry's value.
        var queueIndex = 0

        init(sequence: UInt64, result: TrackerResult, lastUsedStamp: UInt64) {
            self.sequence = sequence
            self.result = result
            self.lastUsedStamp = lastUsedStamp
        }

        /// Equal answers to the same request; where the queue keeps them does not matter.
        static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.sequence == rhs.sequence && lhs.result == rhs.result && lhs.lastUsedStamp == rhs.lastUsedStamp
        }
    }

    private(set) var entries: [Key: Entry] = [:]
    /// (key, stamp) in stamp order, with stale pairs (the key was used again later) left in
    /// place and skipped: eviction is amortized O(1).
    private var usage: [(key: Key, stamp: UInt64)] = []
    private var usageHead = 0
    /// Pairs at or after `usageHead` whose key was used again later (or forgotten).
    private var staleCount = 0

    init() {}

    /// Rebuilds a table from entries (after restore); the usage order follows from the stamps.
    init(entries: [Key: Entry]) {
        self.entries = entries
        usage = entries.map { (key: $0.key, stamp: $0.value.lastUsedStamp) }.sorted { $0.stamp < $1.stamp }
        reindex()
    }

    subscript(key: Key) -> Entry? { entries[key] }

    /// Pairs held in the usage queue, live and stale: stays within about twice the keys.
    var queuedPairCount: Int { usage.count - usageHead }

    /// Marks a remembered key as used at `stamp` (a retry answered from the table).
    mutating func touch(_ key: Key, stamp: UInt64) {
        guard entries[key] != nil else { return }
        entries[key]?.lastUsedStamp = stamp
        entries[key]?.queueIndex = usage.count
        usage.append((key, stamp))
        staleCount += 1
        compactIfSparse()
    }

    /// Remembers `result` as the key's answer to `sequence`, forgetting the least recently used
    /// keys beyond `capacity`.
    mutating func record(_ key: Key, sequence: UInt64, result: TrackerResult, stamp: UInt64, capacity: Int) {
        var entry = Entry(sequence: sequence, result: result, lastUsedStamp: stamp)
        entry.queueIndex = usage.count
        if entries.updateValue(entry, forKey: key) != nil {
            staleCount += 1
        }
        usage.append((key, stamp))
        // Each pass consumes one queued pair, and a live key always has one: bounded by the queue.
        while entries.count > capacity, usageHead < usage.count {
            let oldest = usage[usageHead]
            usageHead += 1
            if entries[oldest.key]?.lastUsedStamp == oldest.stamp {
                entries[oldest.key] = nil
            } else {
                staleCount -= 1
            }
        }
        compactIfSparse()
    }

    private mutating func compactIfSparse() {
        guard usage.count > 1_024, staleCount + usageHead > usage.count / 2 else { return }
        usage = usage[usageHead...].filter { entries[$0.key]?.lastUsedStamp == $0.stamp }
        usageHead = 0
        staleCount = 0
        reindex()
    }

    /// Points every entry at its pair, after the queue was rebuilt.
    private mutating func reindex() {
        for (index, pair) in usage.enumerated() { entries[pair.key]?.queueIndex = index }
    }

    /// Why the table is incoherent (over `capacity`, a stamp outside 1...`appliedCount`, or a
    /// usage queue that does not hold each key's latest stamp exactly once), or nil.
    func violation(capacity: Int, appliedCount: UInt64) -> String? {
        if entries.count > capacity { return "more than \(capacity) entries" }
        // The message names no key, so the order entries are visited in cannot reach it.
        if entries.values.contains(where: { $0.lastUsedStamp > appliedCount || $0.lastUsedStamp == 0 }) {
            return "an entry stamped outside 1...\(appliedCount)"
        }
        // Each entry's pair is queued where it says (stamps are unique, so no pair is another's),
        // and every other queued pair is counted stale.
        for (key, entry) in entries {
            let index = entry.queueIndex
            guard index >= usageHead, index < usage.count, usage[index].key == key, usage[index].stamp == entry.lastUsedStamp else {
                return "usage queue does not match the table"
            }
        }
        return usage.count - usageHead - entries.count == staleCount ? nil : "usage queue miscounts stale pairs"
    }
}

extension ClientTable: Equatable {
    /// Equal when the remembered keys are; the usage queue is a derived index.
    static func == (lhs: ClientTable, rhs: ClientTable) -> Bool { lhs.entries == rhs.entries }
}
