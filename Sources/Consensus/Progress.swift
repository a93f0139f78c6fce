/// The leader's view of one follower's log (Raft's nextIndex and matchIndex, plus flow control).
struct Progress: Sendable {
    enum State: Sendable {
        /// One append at a time until the follower's position is known.
        case probe
        /// Appends pipelined, up to the in-flight limit.
        case replicate
        /// A snapshot was sent; appends wait until the follower has it.
        case snapshot
    }

    var match: UInt64 = 0
    var next: UInt64
    var state: State = .probe
    /// In probe state: an append was sent and no answer has come yet.
    var isProbeSent = false
    /// Last index of each append in flight, oldest first.
    var inflight: [UInt64] = []
    /// Ticks since the leader last heard from this follower (for check-quorum).
    var ticksSinceHeard = 0
    /// Whether the follower has answered this leader at all (a new member has not).
    var hasAnswered = false
    /// The commit index last sent to this follower.
    var sentCommit: UInt64 = 0
    /// In snapshot state: the index of the snapshot sent, and ticks spent waiting for it.
    var pendingSnapshotIndex: UInt64 = 0
    var ticksInSnapshot = 0
    /// For the witness: the durable log end last sent to it.
    var sentMarkIndex: UInt64 = 0
    /// The incarnation the follower's latest answer carried (0 before any answer).
    var incarnation: UInt64 = 0

    init(next: UInt64) { self.next = next }

    /// The leader heard from the follower just now.
    mutating func markHeard() {
        ticksSinceHeard = 0
        hasAnswered = true
    }

    /// Whether the follower answered this leader within the last `ticks` ticks.
    func isHeard(within ticks: Int) -> Bool { hasAnswered && ticksSinceHeard < ticks }

    func isPaused(inflightMax: Int) -> Bool {
        switch state {
        case .probe: isProbeSent
        case .replicate: inflight.count >= inflightMax
        case .snapshot: true
        }
    }

    mutating func becomeSnapshot(index: UInt64) {
        state = .snapshot
        pendingSnapshotIndex = index
        ticksInSnapshot = 0
        isProbeSent = false
        inflight.removeAll()
    }

    mutating func becomeProbe() {
        state = .probe
        next = match + 1
        isProbeSent = false
        inflight.removeAll()
    }

    /// Starts probing at `next` (kept above `match` and within the leader's log + 1).
    mutating func probe(from wanted: UInt64, lastIndex: UInt64) {
        state = .probe
        next = max(match + 1, min(wanted, lastIndex + 1))
        isProbeSent = false
        inflight.removeAll()
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match + 1
        isProbeSent = false
        inflight.removeAll()
    }

    /// In replicate state with a full window: forget the oldest append in flight so one more
    /// can go (its answer may have been lost; a heartbeat answer shows the follower is there).
    mutating func freeFirstInflightIfFull(inflightMax: Int) {
        if state == .replicate && inflight.count >= inflightMax { inflight.removeFirst() }
    }

    /// Records an append sent with entries up to `lastIndex` (nil when it carried none).
    mutating func sentAppend(lastIndex: UInt64?, commit: UInt64) {
        sentCommit = max(sentCommit, commit)
        switch state {
        case .probe:
            isProbeSent = true
        case .replicate:
            if let lastIndex {
                next = lastIndex + 1
                inflight.append(lastIndex)
            }
        case .snapshot:
            break
        }
    }

    /// The follower holds everything through `index`; returns whether that was news.
    mutating func maybeUpdate(_ index: UInt64) -> Bool {
        var isNews = false
        if index > match {
            match = index
            isNews = true
            isProbeSent = false
        }
        next = max(next, index + 1)
        inflight.removeAll { $0 <= index }
        return isNews
    }

    /// Handles a rejection of the append at `rejected`; `hint` is the leader's computed guess of
    /// where the logs agree. Returns false when the rejection is stale.
    mutating func maybeDecrease(rejected: UInt64, hint: UInt64) -> Bool {
        if state == .snapshot { return false }
        if state == .replicate {
            guard rejected > match else { return false }
            becomeProbe()
            return true
        }
        guard next - 1 == rejected else { return false }
        // `hint` is at most indexMax (validated) or an index of the leader's log: no overflow.
        next = max(hint < rejected ? hint + 1 : rejected, match + 1)
        isProbeSent = false
        return true
    }
}
