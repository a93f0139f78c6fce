/// The last result of each deduplication key, for exactly-once application (Raft dissertation
/// §6.3). `ExactlyOnce.swift` says which key a command has and how its sequence is judged.
///
/// Every applied command gets a stamp, its position in log order. When more than `capacity`
/// keys are remembered, the one whose last request is oldest in log order is forgotten:
/// deterministic on every replica. A forgotten key whose request is retried would have it
/// applied again, so the capacity should far exceed the keys active at once.
///
/// The recency order is a doubly linked list threaded through an array of slots, oldest to
/// newest: a lookup, a touch, a record and an eviction are each one dictionary access and a
/// few array writes, with no queue to compact.
struct ClientTable<Key: Hashable & Comparable & Sendable>: Sendable {
    struct Entry: Equatable, Sendable {
        var sequence: UInt64
        var result: TrackerResult
        var lastUsedStamp: UInt64
    }

    private struct Slot: Sendable {
        var key: Key
        var entry: Entry
        /// The slot used just before this one (toward the oldest), or `none`.
        var older: Int
        /// The slot used just after this one (toward the newest), or `none`.
        var newer: Int
    }

    private static var none: Int { -1 }
    private var slotOfKey: [Key: Int] = [:]
    private var slots: [Slot] = []
    /// Slots of forgotten keys, reused before the array grows.
    private var freeSlots: [Int] = []
    private var oldest = ClientTable.none
    private var newest = ClientTable.none

    init() {}

    /// Rebuilds a table from entries with distinct keys (after restore); the recency order
    /// follows from the stamps.
    init(entries: [(key: Key, entry: Entry)]) {
        slotOfKey.reserveCapacity(entries.count)
        slots.reserveCapacity(entries.count)
        // Sort positions, not the (large) entries themselves.
        let stamps = entries.map(\.entry.lastUsedStamp)
        let order = stamps.indices.sorted { stamps[$0] < stamps[$1] }
        for index in order {
            let (key, entry) = entries[index]
            record(key, sequence: entry.sequence, result: entry.result, stamp: entry.lastUsedStamp, capacity: Int.max)
        }
    }

    subscript(key: Key) -> Entry? { slotOfKey[key].map { slots[$0].entry } }

    /// Keys remembered.
    var count: Int { slotOfKey.count }

    /// Slots allocated, live and free: never more than one over the most keys remembered at
    /// once (a new key takes its slot before the oldest is forgotten).
    var slotCount: Int { slots.count }

    /// Every entry, sorted by key: the order of the snapshot.
    func sortedEntries() -> [(key: Key, entry: Entry)] {
        slotOfKey.keys.sorted().map { ($0, slots[slotOfKey[$0]!].entry) }
    }

    /// Whether some remembered key and entry satisfy `predicate`: the answer cannot depend on
    /// the order they are visited in.
    func contains(where predicate: (Key, Entry) -> Bool) -> Bool {
        slotOfKey.contains { predicate($0.key, slots[$0.value].entry) }
    }

    /// Marks a remembered key as used at `stamp` (a retry answered from the table).
    mutating func touch(_ key: Key, stamp: UInt64) {
        guard let slot = slotOfKey[key] else { return }
        slots[slot].entry.lastUsedStamp = stamp
        moveToNewest(slot)
    }

    /// Remembers `result` as the key's answer to `sequence`, forgetting the least recently used
    /// keys beyond `capacity`.
    mutating func record(_ key: Key, sequence: UInt64, result: TrackerResult, stamp: UInt64, capacity: Int) {
        let entry = Entry(sequence: sequence, result: result, lastUsedStamp: stamp)
        if let slot = slotOfKey[key] {
            slots[slot].entry = entry
            moveToNewest(slot)
        } else {
            let slot: Int
            if let reused = freeSlots.popLast() {
                slot = reused
                slots[slot] = Slot(key: key, entry: entry, older: Self.none, newer: Self.none)
            } else {
                slot = slots.count
                slots.append(Slot(key: key, entry: entry, older: Self.none, newer: Self.none))
            }
            slotOfKey[key] = slot
            link(slot)
        }
        // Each pass forgets one key, and there is an oldest while any key is remembered.
        while slotOfKey.count > capacity, oldest != Self.none {
            let slot = oldest
            unlink(slot)
            slotOfKey[slots[slot].key] = nil
            freeSlots.append(slot)
        }
    }

    private mutating func moveToNewest(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        link(slot)
    }

    /// Appends `slot` as the newest.
    private mutating func link(_ slot: Int) {
        slots[slot].older = newest
        slots[slot].newer = Self.none
        if newest != Self.none { slots[newest].newer = slot } else { oldest = slot }
        newest = slot
    }

    private mutating func unlink(_ slot: Int) {
        let (older, newer) = (slots[slot].older, slots[slot].newer)
        if older != Self.none { slots[older].newer = newer } else { oldest = newer }
        if newer != Self.none { slots[newer].older = older } else { newest = older }
    }

    /// Why the table is incoherent (over `capacity`, a stamp outside 1...`appliedCount`, a
    /// recency list that is not in stamp order or does not hold every remembered key exactly
    /// once), or nil.
    func violation(capacity: Int, appliedCount: UInt64) -> String? {
        if slotOfKey.count > capacity { return "more than \(capacity) entries" }
        if slotOfKey.count + freeSlots.count != slots.count { return "slots lost or counted twice" }
        var visited = 0
        var previous = Self.none
        var slot = oldest
        var lastStamp: UInt64 = 0
        // Bounded by the slots: a list longer than that has a cycle.
        while slot != Self.none, visited <= slots.count {
            guard slot >= 0, slot < slots.count, slots[slot].older == previous else { return "recency list is broken" }
            let stamp = slots[slot].entry.lastUsedStamp
            if stamp > appliedCount || stamp == 0 { return "an entry stamped outside 1...\(appliedCount)" }
            if stamp <= lastStamp { return "recency list is not in stamp order" }
            if slotOfKey[slots[slot].key] != slot { return "recency list does not match the table" }
            lastStamp = stamp
            visited += 1
            previous = slot
            slot = slots[slot].newer
        }
        if previous != newest || visited != slotOfKey.count { return "recency list does not hold every key once" }
        return nil
    }
}

extension ClientTable: Equatable {
    /// Equal when the remembered keys and their entries are; where slots lie does not matter.
    static func == (lhs: ClientTable, rhs: ClientTable) -> Bool {
        lhs.count == rhs.count && lhs.slotOfKey.allSatisfy { rhs[$0.key] == lhs.slots[$0.value].entry }
    }
}
