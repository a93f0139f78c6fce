/// Which piece to ask which peer for: the downloader's bookkeeping, with no I/O and no clock
/// of its own (time and randomness are handed in), so tests can drive it directly.
///
/// Rarest first: among missing pieces nobody is fetching that the peer holds, the ones held by
/// the fewest peers; ties are broken at random among the first `rarestWindowPieces` of them in
/// index order, which keeps the download near-sequential. Endgame: once every missing piece
/// is in flight, a peer may duplicate a piece another peer is fetching (at most
/// `endgameDuplicatesMax` requests per piece). A peer's requests return to the pool when it
/// disconnects; a peer with `badPiecesMax` bad pieces is dropped.
///
/// Indexed, not scanned: missing pieces nobody is fetching sit in one bucket per availability
/// (a `PieceBits` each), pieces in flight in another set, so a request intersects a bucket with
/// the peer's holdings 64 pieces per word instead of visiting every piece. The choices are the
/// ones the plain scan over every piece makes (the tests hold both side by side).
public struct PieceScheduler: Sendable {
    /// What happened to a received piece.
    public enum Outcome: Equatable, Sendable {
        /// First verified copy: write it and count it.
        case accepted
        /// Already done (the endgame's second copy): ignore it.
        case duplicate
        /// Failed verification: the piece is requested again elsewhere.
        case rejected
        /// Failed verification once too often: drop the peer.
        case peerDropped
    }

    struct Peer: Sendable {
        var holds: PieceBits
        var requested: PieceBits
        var badPieces = 0
        var receivedBytes: UInt64 = 0
        var connectedAtMillis: UInt64
    }

    /// Pieces of the file.
    public let pieceCount: Int
    /// Whether each piece is verified and written.
    public private(set) var done: [Bool]
    /// Verified pieces.
    public private(set) var doneCount: Int
    var requestCount: [Int]
    var availability: [Int]
    /// `free[a]`: missing pieces with no request in flight held by exactly `a` peers.
    var free: [PieceBits]
    /// Missing pieces with at least one request in flight.
    var inFlight: PieceBits
    /// Pieces not yet done.
    var missing: PieceBits
    var peers: [Int: Peer] = [:]
    var lowestMissing = 0
    /// Peers dropped for bad pieces; never readmitted to this download.
    public private(set) var bannedPeers: Set<String> = []
    /// Counts the changes that can change a choice (peers, holdings, requests, pieces): a peer
    /// that got no piece at one version gets none until it changes (the caller may skip asking).
    public private(set) var version: UInt64 = 0
    /// Every done piece in the order it was done (the ones verified at start first, ascending):
    /// what peer connections tell their servers with `have`, each from its own cursor.
    public private(set) var doneOrder: [Int] = []

    /// A scheduler for `pieceCount` pieces of which `have` are already verified (flags past
    /// `pieceCount` are ignored, missing ones count as not verified: never a trap).
    public init(pieceCount: Int, have: [Bool]) {
        let pieceCount = max(0, pieceCount)
        self.pieceCount = pieceCount
        let have = Array(have.prefix(pieceCount)) + Array(repeating: false, count: max(0, pieceCount - have.count))
        done = have
        doneCount = have.count { $0 }
        requestCount = Array(repeating: 0, count: pieceCount)
        availability = Array(repeating: 0, count: pieceCount)
        missing = PieceBits(count: pieceCount)
        for index in 0..<pieceCount where !have[index] { missing.insert(index) }
        // Nobody holds anything yet: every missing piece is free at availability 0.
        free = [missing]
        inFlight = PieceBits(count: pieceCount)
        doneOrder = (0..<pieceCount).filter { have[$0] }
        advanceLowestMissing()
    }

    /// Whether every piece is done.
    public var isComplete: Bool { doneCount == pieceCount }
    /// Peers currently known.
    public var peerCount: Int { peers.count }

    /// Registers a connected peer.
    public mutating func addPeer(_ id: Int, nowMillis: UInt64) {
        version &+= 1
        removePeer(id)
        peers[id] = Peer(holds: PieceBits(count: pieceCount), requested: PieceBits(count: pieceCount), connectedAtMillis: nowMillis)
    }

    /// Replaces what a peer holds (its pieces only grow in practice, but any bitfield works).
    public mutating func setHoldings(_ id: Int, holds: [Bool]) {
        version &+= 1
        guard peers[id] != nil, holds.count == pieceCount else { return }
        for index in 0..<pieceCount where peers[id]!.holds.contains(index) != holds[index] {
            if holds[index] { peers[id]!.holds.insert(index) } else { peers[id]!.holds.remove(index) }
            changeAvailability(of: index, by: holds[index] ? 1 : -1)
        }
    }

    /// Adds pieces a peer announced it holds now (a `have`); indices out of range are ignored.
    public mutating func addHoldings(_ id: Int, pieces: [Int]) {
        version &+= 1
        guard peers[id] != nil else { return }
        for index in pieces where peers[id]!.holds.insert(index) { changeAvailability(of: index, by: 1) }
    }

    /// Forgets a peer: its outstanding requests return to the pool.
    public mutating func removePeer(_ id: Int) {
        version &+= 1
        guard let peer = peers.removeValue(forKey: id) else { return }
        peer.holds.forEachMember(from: 0) { changeAvailability(of: $0, by: -1); return true }
        peer.requested.forEachMember(from: 0) { requestCount[$0] -= 1; refile($0); return true }
    }

    /// Whether `id` holds every piece (so its bitfield cannot grow).
    public func peerIsComplete(_ id: Int) -> Bool { peers[id]?.holds.isFull ?? false }

    /// Whether `id` holds a piece that is still missing.
    public func peerHasMissingPieces(_ id: Int) -> Bool {
        guard let holds = peers[id]?.holds else { return false }
        var found = false
        missing.forEachMember(from: lowestMissing, mask: { holds.word(at: $0) }) { _ in found = true; return false }
        return found
    }

    /// How many requests `id` may keep in flight: fewer when it is much slower than the best.
    ///
    /// `nowMillis` may be older than a peer's connection time (each peer's thread reads the
    /// clock itself), so time since connecting saturates at zero instead of going negative.
    public func requestDepth(for id: Int, nowMillis: UInt64) -> Int {
        guard let peer = peers[id] else { return 0 }
        func connectedMillis(_ p: Peer) -> UInt64 { nowMillis >= p.connectedAtMillis ? nowMillis - p.connectedAtMillis : 0 }
        func rate(_ p: Peer) -> Double { Double(p.receivedBytes) / Double(max(1, connectedMillis(p))) }
        let best = peers.values.map(rate).max() ?? 0
        let warmedUp = connectedMillis(peer) >= UInt64(TransferLimits.slowPeerWarmupMillis)
        if warmedUp, best > 0, rate(peer) * TransferLimits.slowPeerRatio < best { return TransferLimits.requestsInFlightSlowPeer }
        return TransferLimits.requestsInFlightPerPeer
    }

    /// The next piece to request from `id`, marked as requested; nil when there is none.
    ///
    /// A peer holding every piece (a sharer) is asked only for pieces no partial peer (another
    /// downloader, not slow at `nowMillis`) holds: those come from the downloaders, so the
    /// sharer's uplink carries each piece about once; in the endgame it gets one duplicate at a
    /// time, only when nothing else is in flight on it.
    public mutating func nextRequest(for id: Int, random: inout some RandomNumberGenerator, nowMillis: UInt64 = 0) -> Int? {
        version &+= 1
        guard let peer = peers[id] else { return nil }
        let partial = peer.holds.isFull ? partialHoldings(besides: id, nowMillis: nowMillis) : []
        var choice = rarestFree(heldBy: peer.holds, notHeldByAnyOf: partial).randomElement(using: &random)
        // The endgame starts once every missing piece is in flight (BitTorrent's rule): not while
        // a piece waits that no peer offers yet (super-seeding sharers offer a few at a time).
        let isEndgame = !free.contains { $0.memberCount > 0 }
        if choice == nil && isEndgame && (partial.isEmpty || peer.requested.memberCount == 0) { choice = endgamePiece(for: peer) }
        guard let index = choice else { return nil }
        requestCount[index] += 1
        peers[id]!.requested.insert(index)
        refile(index)
        return index
    }

    /// A peer refused or lost request `index`: it returns to the pool. With `isHeld` false the
    /// peer is taken not to hold the piece any more (until it announces it again), so the piece
    /// is not asked of it again at once.
    public mutating func cancelRequest(_ id: Int, index: Int, isHeld: Bool = true) {
        version &+= 1
        guard peers[id]?.requested.remove(index) == true else { return }
        requestCount[index] -= 1
        refile(index)
        if !isHeld, peers[id]!.holds.remove(index) { changeAvailability(of: index, by: -1) }
    }

    /// Records a received piece after its SHA-1 check (`isValid`). For `.accepted` the caller
    /// has written it already; the piece is done from now on.
    public mutating func received(_ id: Int, userID: String, index: Int, byteCount: Int, isValid: Bool) -> Outcome {
        version &+= 1
        guard index >= 0, index < pieceCount else { return .rejected }
        if peers[id]?.requested.remove(index) == true {
            requestCount[index] -= 1
            if isValid { peers[id]!.receivedBytes += UInt64(byteCount) } else { peers[id]!.badPieces += 1 }
            refile(index)
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
        doneOrder.append(index)
        missing.remove(index)
        refile(index)
        advanceLowestMissing()
        return .accepted
    }

    /// The done pieces as a `PieceBitfield`.
    public func bitfield() -> [UInt8] {
        var bits = [UInt8](repeating: 0, count: (pieceCount + 7) / 8)
        for index in 0..<pieceCount where done[index] { bits[index / 8] |= 0x80 >> UInt8(index % 8) }
        return bits
    }

    /// Decodes a `PieceBitfield` into flags; nil when it does not fit `pieceCount`.
    public static func flags(of bits: [UInt8], pieceCount: Int) -> [Bool]? {
        guard bits.count == (pieceCount + 7) / 8 else { return nil }
        return (0..<pieceCount).map { bits[$0 / 8] & (0x80 >> UInt8($0 % 8)) != 0 }
    }
}
