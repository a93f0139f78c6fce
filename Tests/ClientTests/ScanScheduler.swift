import PeerTransfer

/// The scheduler as it was before it kept an index: every request scans every piece. Kept in
/// the tests as the reference the indexed `PieceScheduler` must agree with, choice for choice.
struct ScanScheduler {
    typealias Outcome = PieceScheduler.Outcome

    struct Peer: Sendable {
        var holds: [Bool]
        var requested: Set<Int> = []
        var badPieces = 0
        var receivedBytes: UInt64 = 0
        var connectedAtMillis: UInt64
    }

    /// Pieces of the file.
    let pieceCount: Int
    /// Whether each piece is verified and written.
    private(set) var done: [Bool]
    /// Verified pieces.
    private(set) var doneCount: Int
    private var requestCount: [Int]
    private var availability: [Int]
    private var peers: [Int: Peer] = [:]
    private var lowestMissing = 0
    /// Peers dropped for bad pieces; never readmitted to this download.
    private(set) var bannedPeers: Set<String> = []

    /// A scheduler for `pieceCount` pieces of which `have` are already verified (flags past
    /// `pieceCount` are ignored, missing ones count as not verified: never a trap).
    init(pieceCount: Int, have: [Bool]) {
        let pieceCount = max(0, pieceCount)
        self.pieceCount = pieceCount
        let have = Array(have.prefix(pieceCount)) + Array(repeating: false, count: max(0, pieceCount - have.count))
        done = have
        doneCount = have.count { $0 }
        requestCount = Array(repeating: 0, count: pieceCount)
        availability = Array(repeating: 0, count: pieceCount)
        advanceLowestMissing()
    }

    /// Whether every piece is done.
    var isComplete: Bool { doneCount == pieceCount }
    /// Peers currently known.
    var peerCount: Int { peers.count }

    /// Registers a connected peer.
    mutating func addPeer(_ id: Int, nowMillis: UInt64) {
        removePeer(id)
        peers[id] = Peer(holds: Array(repeating: false, count: pieceCount), connectedAtMillis: nowMillis)
    }

    /// Replaces what a peer holds (its pieces only grow in practice, but any bitfield works).
    mutating func setHoldings(_ id: Int, holds: [Bool]) {
        guard var peer = peers[id], holds.count == pieceCount else { return }
        for index in 0..<pieceCount where peer.holds[index] != holds[index] {
            availability[index] += holds[index] ? 1 : -1
        }
        peer.holds = holds
        peers[id] = peer
    }

    /// Forgets a peer: its outstanding requests return to the pool.
    mutating func removePeer(_ id: Int) {
        guard let peer = peers.removeValue(forKey: id) else { return }
        for index in 0..<pieceCount where peer.holds[index] { availability[index] -= 1 }
        for index in peer.requested { requestCount[index] -= 1 }
    }

    /// Whether `id` holds every piece (so its bitfield cannot grow).
    func peerIsComplete(_ id: Int) -> Bool {
        guard let peer = peers[id] else { return false }
        return peer.holds.allSatisfy { $0 }
    }

    /// Whether `id` holds a piece that is still missing.
    func peerHasMissingPieces(_ id: Int) -> Bool {
        guard let peer = peers[id] else { return false }
        return (lowestMissing..<pieceCount).contains { !done[$0] && peer.holds[$0] }
    }

    /// How many requests `id` may keep in flight: fewer when it is much slower than the best.
    ///
    /// `nowMillis` may be older than a peer's connection time (each peer's thread reads the
    /// clock itself), so time since connecting saturates at zero instead of going negative.
    func requestDepth(for id: Int, nowMillis: UInt64) -> Int {
        guard let peer = peers[id] else { return 0 }
        func connectedMillis(_ p: Peer) -> UInt64 { nowMillis >= p.connectedAtMillis ? nowMillis - p.connectedAtMillis : 0 }
        func rate(_ p: Peer) -> Double { Double(p.receivedBytes) / Double(max(1, connectedMillis(p))) }
        let best = peers.values.map(rate).max() ?? 0
        let warmedUp = connectedMillis(peer) >= UInt64(TransferLimits.slowPeerWarmupMillis)
        if warmedUp, best > 0, rate(peer) * TransferLimits.slowPeerRatio < best { return TransferLimits.requestsInFlightSlowPeer }
        return TransferLimits.requestsInFlightPerPeer
    }

    /// The next piece to request from `id`, marked as requested; nil when there is none. A
    /// peer holding every piece is asked only for pieces no (not slow) partial peer holds; the
    /// endgame (duplicates) starts once every missing piece is in flight, one at a time
    /// on such a peer.
    mutating func nextRequest(for id: Int, random: inout some RandomNumberGenerator, nowMillis: UInt64 = 0) -> Int? {
        guard var peer = peers[id] else { return nil }
        let isComplete = peer.holds.allSatisfy { $0 }
        let partial = !isComplete ? [] : peers.keys.sorted().compactMap { other -> [Bool]? in
            guard other != id, let holds = peers[other]?.holds, holds.contains(true), holds.contains(false),
                  requestDepth(for: other, nowMillis: nowMillis) != TransferLimits.requestsInFlightSlowPeer else { return nil }
            return holds
        }
        func heldByPartial(_ index: Int) -> Bool { partial.contains { $0[index] } }
        var best = Int.max
        var tied: [Int] = []
        var anyFree = false
        for index in lowestMissing..<pieceCount where !done[index] && requestCount[index] == 0 {
            anyFree = true
            guard peer.holds[index], !heldByPartial(index) else { continue }
            if availability[index] < best {
                best = availability[index]
                tied.removeAll(keepingCapacity: true)
            }
            if availability[index] == best, tied.count < TransferLimits.rarestWindowPieces { tied.append(index) }
        }
        var choice = tied.randomElement(using: &random)
        if choice == nil && !anyFree && (partial.isEmpty || peer.requested.isEmpty) { choice = endgamePiece(for: peer) }
        guard let index = choice else { return nil }
        requestCount[index] += 1
        peer.requested.insert(index)
        peers[id] = peer
        return index
    }

    private func endgamePiece(for peer: Peer) -> Int? {
        var choice: Int?
        for index in lowestMissing..<pieceCount where !done[index] && peer.holds[index] && !peer.requested.contains(index) {
            guard requestCount[index] < TransferLimits.endgameDuplicatesMax else { continue }
            if choice == nil || requestCount[index] < requestCount[choice!] { choice = index }
        }
        return choice
    }

    /// A peer refused or lost request `index`: it returns to the pool (and, with `isHeld`
    /// false, the peer no longer holds it).
    mutating func cancelRequest(_ id: Int, index: Int, isHeld: Bool = true) {
        guard var peer = peers[id], peer.requested.remove(index) != nil else { return }
        requestCount[index] -= 1
        if !isHeld && peer.holds[index] {
            peer.holds[index] = false
            availability[index] -= 1
        }
        peers[id] = peer
    }

    /// Adds announced pieces (out of range ignored).
    mutating func addHoldings(_ id: Int, pieces: [Int]) {
        guard var peer = peers[id] else { return }
        for index in pieces where index >= 0 && index < pieceCount && !peer.holds[index] {
            peer.holds[index] = true
            availability[index] += 1
        }
        peers[id] = peer
    }

    /// Records a received piece after its SHA-1 check (`isValid`). For `.accepted` the caller
    /// has written it already; the piece is done from now on.
    mutating func received(_ id: Int, userID: String, index: Int, byteCount: Int, isValid: Bool) -> Outcome {
        guard index >= 0, index < pieceCount else { return .rejected }
        if var peer = peers[id], peer.requested.remove(index) != nil {
            requestCount[index] -= 1
            if isValid { peer.receivedBytes += UInt64(byteCount) } else { peer.badPieces += 1 }
            peers[id] = peer
        }
        if !isValid {
            if (peers[id]?.badPieces ?? 0) >= TransferLimits.badPiecesMax {
                bannedPeers.insert(userID)
                return .peerDropped
            }
            return .rejected
        }
        guard !done[index] else { return .duplicate }
        done[index] = true
        doneCount += 1
        advanceLowestMissing()
        return .accepted
    }

    private mutating func advanceLowestMissing() {
        while lowestMissing < pieceCount && done[lowestMissing] { lowestMissing += 1 }
    }
}
