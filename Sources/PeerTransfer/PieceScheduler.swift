/// Which piece to ask which peer for: the downloader's bookkeeping, with no I/O and no clock
/// of its own (time and randomness are handed in), so tests can drive it directly.
///
/// Rarest first: among missing pieces nobody is fetching that the peer holds, the ones held by
/// the fewest peers; ties are broken at random among the first `rarestWindowPieces` of them in
/// index order, which keeps the download near-sequential. Endgame: when a peer has nothing
/// unrequested left, it may duplicate a piece another peer is fetching (at most
/// `endgameDuplicatesMax` requests per piece). A peer's requests return to the pool when it
/// disconnects; a peer with `badPiecesMax` bad pieces is dropped.
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
        var holds: [Bool]
        var requested: Set<Int> = []
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
    private var requestCount: [Int]
    private var availability: [Int]
    private var peers: [Int: Peer] = [:]
    private var lowestMissing = 0
    /// Peers dropped for bad pieces; never readmitted to this download.
    public private(set) var bannedPeers: Set<String> = []

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
        advanceLowestMissing()
    }

    /// Whether every piece is done.
    public var isComplete: Bool { doneCount == pieceCount }
    /// Peers currently known.
    public var peerCount: Int { peers.count }

    /// Registers a connected peer.
    public mutating func addPeer(_ id: Int, nowMillis: UInt64) {
        peers[id] = Peer(holds: Array(repeating: false, count: pieceCount), connectedAtMillis: nowMillis)
    }

    /// Replaces what a peer holds (its pieces only grow in practice, but any bitfield works).
    public mutating func setHoldings(_ id: Int, holds: [Bool]) {
        guard var peer = peers[id], holds.count == pieceCount else { return }
        for index in 0..<pieceCount where peer.holds[index] != holds[index] {
            availability[index] += holds[index] ? 1 : -1
        }
        peer.holds = holds
        peers[id] = peer
    }

    /// Forgets a peer: its outstanding requests return to the pool.
    public mutating func removePeer(_ id: Int) {
        guard let peer = peers.removeValue(forKey: id) else { return }
        for index in 0..<pieceCount where peer.holds[index] { availability[index] -= 1 }
        for index in peer.requested { requestCount[index] -= 1 }
    }

    /// Whether `id` holds every piece (so its bitfield cannot grow).
    public func peerIsComplete(_ id: Int) -> Bool {
        guard let peer = peers[id] else { return false }
        return peer.holds.allSatisfy { $0 }
    }

    /// Whether `id` holds a piece that is still missing.
    public func peerHasMissingPieces(_ id: Int) -> Bool {
        guard let peer = peers[id] else { return false }
        return (lowestMissing..<pieceCount).contains { !done[$0] && peer.holds[$0] }
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
    public mutating func nextRequest(for id: Int, random: inout some RandomNumberGenerator) -> Int? {
        guard var peer = peers[id] else { return nil }
        var best = Int.max
        var tied: [Int] = []
        for index in lowestMissing..<pieceCount where !done[index] && requestCount[index] == 0 && peer.holds[index] {
            if availability[index] < best {
                best = availability[index]
                tied.removeAll(keepingCapacity: true)
            }
            if availability[index] == best, tied.count < TransferLimits.rarestWindowPieces { tied.append(index) }
        }
        var choice = tied.randomElement(using: &random)
        if choice == nil { choice = endgamePiece(for: peer) }
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

    /// A peer refused or lost request `index`: it returns to the pool.
    public mutating func cancelRequest(_ id: Int, index: Int) {
        guard var peer = peers[id], peer.requested.remove(index) != nil else { return }
        requestCount[index] -= 1
        peers[id] = peer
    }

    /// Records a received piece after its SHA-1 check (`isValid`). For `.accepted` the caller
    /// has written it already; the piece is done from now on.
    public mutating func received(_ id: Int, userID: String, index: Int, byteCount: Int, isValid: Bool) -> Outcome {
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
