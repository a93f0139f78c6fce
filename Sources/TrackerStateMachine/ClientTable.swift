/// The last result of each client, for exactly-once application (Raft dissertation §6.3).
///
/// Every applied command gets a stamp, its position in log order. When more than
/// `Limits.clientsMax` clients are remembered, the one whose last request is oldest in log order
/// is forgotten: deterministic on every replica. A forgotten client that retries an old request
/// would have it applied again, so `clientsMax` should far exceed the clients active at once.
struct ClientTable: Sendable {
    struct Entry: Equatable, Sendable {
        var sequence: UInt64
        var result: TrackerResult
        var lastUsedStamp: UInt64
    }

    private(set) var entries: [UInt64: Entry] = [:]
    /// (client, stamp) in stamp order, with stale pairs (the client was used again later) left
    /// in place and skipped: eviction is amortized O(1).
    private var usage: [(clientID: UInt64, stamp: UInt64)] = []
    private var usageHead = 0
    /// Pairs at or after `usageHead` whose client was used again later (or forgotten).
    private var staleCount = 0

    init() {}

    /// Rebuilds a table from entries (after restore); the usage order follows from the stamps.
    init(entries: [UInt64: Entry]) {
        self.entries = entries
        usage = entries.map { (clientID: $0.key, stamp: $0.value.lastUsedStamp) }.sorted { $0.stamp < $1.stamp }
    }

    subscript(clientID: UInt64) -> Entry? { entries[clientID] }

    /// Pairs held in the usage queue, live and stale: stays within about twice the clients.
    var queuedPairCount: Int { usage.count - usageHead }

    mutating func touch(_ clientID: UInt64, stamp: UInt64) {
        precondition(entries[clientID] != nil, "touching an unknown client")
        entries[clientID]!.lastUsedStamp = stamp
        usage.append((clientID, stamp))
        staleCount += 1
        compactIfSparse()
    }

    mutating func record(_ clientID: UInt64, sequence: UInt64, result: TrackerResult, stamp: UInt64, clientsMax: Int) {
        if entries.updateValue(Entry(sequence: sequence, result: result, lastUsedStamp: stamp), forKey: clientID) != nil {
            staleCount += 1
        }
        usage.append((clientID, stamp))
        while entries.count > clientsMax {
            precondition(usageHead < usage.count, "usage queue lost a client")
            let oldest = usage[usageHead]
            usageHead += 1
            if entries[oldest.clientID]?.lastUsedStamp == oldest.stamp {
                entries[oldest.clientID] = nil
            } else {
                staleCount -= 1
            }
        }
        compactIfSparse()
    }

    private mutating func compactIfSparse() {
        guard usage.count > 1_024, staleCount + usageHead > usage.count / 2 else { return }
        usage = usage[usageHead...].filter { entries[$0.clientID]?.lastUsedStamp == $0.stamp }
        usageHead = 0
        staleCount = 0
    }

    /// Whether the usage queue holds each client's latest stamp exactly once among live pairs.
    func usageViolation() -> String? {
        var live = 0
        for pair in usage[usageHead...] where entries[pair.clientID]?.lastUsedStamp == pair.stamp { live += 1 }
        if live != entries.count { return "client usage queue does not match the table" }
        return usage.count - usageHead - live == staleCount ? nil : "client usage queue miscounts stale pairs"
    }
}

extension ClientTable: Equatable {
    /// Equal when the remembered clients are; the usage queue is a derived index.
    static func == (lhs: ClientTable, rhs: ClientTable) -> Bool { lhs.entries == rhs.entries }
}
