import Consensus

/// The cluster-wide facts the Raft checkers compare every node against.
struct ClusterChecker: Sendable {
    /// Simulated time between whole-log comparisons.
    static let logCheckIntervalMicros: UInt64 = 1_000_000

    /// The leader of each term seen so far (looked up, never iterated).
    var leaderOfTerm: [UInt64: NodeID] = [:]
    /// The term of every committed entry, index 1 first.
    var committedTerms: [UInt64] = []
    /// The term in which each entry was first seen committed (the committing leader's term,
    /// since a leader commits before anyone hears of it); never decreases along the log.
    var commitTerms: [UInt64] = []
    /// The fingerprint of every applied entry (term, kind and bytes), index 1 first.
    var appliedFingerprints: [UInt64] = []
    /// Elections won.
    var leadersElected = 0

    static func fingerprint(_ entry: Entry) -> UInt64 {
        (Trace.fingerprint(entry.data) ^ entry.term &* 0x100_0000_01B3) &+ UInt64(entry.kind.rawValue)
    }
}
