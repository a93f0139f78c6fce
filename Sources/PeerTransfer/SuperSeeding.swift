/// What a server holding a whole file tells the downloaders connected to it, so that each piece
/// leaves it once before any piece leaves it twice (BitTorrent's super-seeding, BEP 16): no
/// I/O and no clock of its own (time is handed in), driven by the server's connection threads
/// under one lock, and by tests.
///
/// The round: each connection is *offered* (told by `have`, or in its first bitfield) up to
/// `offerPieces` pieces that are not yet *out*, each offered to one connection only, lowest
/// index first. A piece is out once it was served, or once a downloader said it holds it.
/// Serving a piece tops its connection's offers up again. A request for anything but a piece
/// offered to that connection and not yet out is refused: the downloader gets it from the peer
/// that has it.
///
/// After the round (every piece out), a downloader is told a piece it lacks only when no other
/// downloader holds it: the rest it gets from its peers. A downloader that finished still
/// counts as a holder after it left (it shares the file now); one that left unfinished does not.
/// A downloader that reported no new piece for `starvedMillis` after the round (it cannot reach
/// the holders) is told everything; while more than `downloadersMax` connections download the
/// file, everyone is told everything and served like by any other sharer.
public struct SuperSeeding: Sendable {
    struct Connection: Sendable {
        /// Pieces this downloader holds (it said so, or we served it).
        var holds: PieceBits
        /// Pieces offered to it in the round that are not out yet.
        var offers: PieceBits
        /// Pieces it was told we hold.
        var told: PieceBits
        /// Pieces to tell it at the next `announcements`.
        var pending: [Int] = []
        /// When it last gained a piece (or joined).
        var progressMillis: UInt64
        /// Whether it is told everything (it starved after the round).
        var isRevealed = false
    }

    /// Pieces of the file.
    public let pieceCount: Int
    /// Connections above which everything is revealed.
    public let downloadersMax: Int
    /// Pieces kept offered to each connection during the round.
    public let offerPieces: Int
    /// How long a downloader may go without a new piece after the round before it is told
    /// everything (it cannot reach the peers holding what it lacks).
    public let starvedMillis: UInt64
    /// Pieces that went out once.
    public private(set) var out: PieceBits
    /// Pieces neither out nor offered to anyone.
    private var fresh: PieceBits
    private var connections: [Int: Connection] = [:]
    /// How many downloaders (connected, or finished and gone) hold each piece.
    private var holderCount: [Int]
    /// Whether every piece is told to every connection and served to anyone (final).
    public private(set) var isRevealed = false

    /// Nothing out yet, for a file of `pieceCount` pieces.
    public init(pieceCount: Int, downloadersMax: Int = TransferLimits.superSeedDownloadersMax,
                offerPieces: Int = TransferLimits.superSeedOfferPieces,
                starvedMillis: UInt64 = UInt64(TransferLimits.superSeedStarvedMillis)) {
        self.pieceCount = max(0, pieceCount)
        self.downloadersMax = max(1, downloadersMax)
        self.offerPieces = max(1, offerPieces)
        self.starvedMillis = starvedMillis
        out = PieceBits(count: self.pieceCount)
        fresh = PieceBits(flags: Array(repeating: true, count: self.pieceCount))
        holderCount = Array(repeating: 0, count: self.pieceCount)
        isRevealed = self.pieceCount == 0
    }

    /// Connections downloading now.
    public var connectionCount: Int { connections.count }
    /// Whether every piece went out once.
    public var isRoundComplete: Bool { out.isFull }

    /// A downloader connected as `id`; returns the pieces to tell it we hold.
    public mutating func join(_ id: Int, nowMillis: UInt64) -> [Int] {
        leave(id)
        connections[id] = Connection(holds: PieceBits(count: pieceCount), offers: PieceBits(count: pieceCount),
                                     told: PieceBits(count: pieceCount), progressMillis: nowMillis)
        if connections.count > downloadersMax { revealAll() }
        if isRoundComplete { queueUnheld(for: [id], pieces: Array(0..<pieceCount)) }
        return announcements(for: id, nowMillis: nowMillis)
    }

    /// The downloader `id` ended: its round offers are fresh again. One that finished stays a
    /// holder; after the round the pieces only an unfinished one held are told to the others.
    public mutating func leave(_ id: Int) {
        guard let connection = connections.removeValue(forKey: id) else { return }
        connection.offers.forEachMember(from: 0) { fresh.insert($0); return true }
        guard !connection.holds.isFull else { return }
        connection.holds.forEachMember(from: 0) { holderCount[$0] -= 1; return true }
        if isRoundComplete && !isRevealed { queueUnheld(for: connections.keys.sorted(), pieces: connection.holds.members) }
    }

    /// Downloader `id` said it holds `pieces` (indices out of range are ignored).
    public mutating func peerHas(_ id: Int, pieces: [Int], nowMillis: UInt64) {
        guard connections[id] != nil else { return }
        for index in pieces where index >= 0 && index < pieceCount { gained(id, index: index, nowMillis: nowMillis) }
    }

    private mutating func gained(_ id: Int, index: Int, nowMillis: UInt64) {
        if connections[id]!.holds.insert(index) {
            holderCount[index] += 1
            connections[id]!.progressMillis = nowMillis
        }
        markOut(index)
    }

    /// Whether piece `index` may be served to `id` now.
    public func mayServe(_ id: Int, index: Int) -> Bool {
        guard let connection = connections[id], index >= 0, index < pieceCount else { return false }
        if isRevealed || connection.isRevealed { return true }
        if isRoundComplete { return connection.told.contains(index) }
        return connection.offers.contains(index) && !out.contains(index)
    }

    /// Piece `index` was sent to `id`.
    public mutating func served(_ id: Int, index: Int, nowMillis: UInt64) {
        guard index >= 0, index < pieceCount, connections[id] != nil else { return }
        gained(id, index: index, nowMillis: nowMillis)
    }

    /// A request of `id` for `index` was refused: it is no longer told we hold the piece (it
    /// is told again when it may have it).
    public mutating func refused(_ id: Int, index: Int) {
        connections[id]?.told.remove(index)
        if isRevealed || connections[id]?.isRevealed == true { connections[id]?.pending.append(index) }
    }

    /// Pieces to tell `id` we hold now, ascending: its new offers in the round, the pieces it
    /// may have from us after it, or everything once revealed. Empty when there is nothing new.
    public mutating func announcements(for id: Int, nowMillis: UInt64) -> [Int] {
        guard let current = connections[id] else { return [] }
        if isRoundComplete && !isRevealed && !current.isRevealed && !current.holds.isFull
            && millis(from: current.progressMillis, to: nowMillis) >= starvedMillis {
            connections[id]!.isRevealed = true
            for index in 0..<pieceCount where !current.told.contains(index) { connections[id]!.pending.append(index) }
        }
        if !isRoundComplete { topUpOffers(of: id) }
        guard !connections[id]!.pending.isEmpty else { return [] }
        // In place: the connection's sets are not copied on every call.
        let pending = connections[id]!.pending
        connections[id]!.pending = []
        var new: [Int] = []
        for index in pending where connections[id]!.told.insert(index) { new.append(index) }
        return new.sorted()
    }

    private mutating func topUpOffers(of id: Int) {
        var wanted = offerPieces - connections[id]!.offers.memberCount
        guard wanted > 0 else { return }
        let holds = connections[id]!.holds
        var picked: [Int] = []
        fresh.forEachMember(from: 0, mask: { ~holds.word(at: $0) }) { index in
            picked.append(index)
            wanted -= 1
            return wanted > 0
        }
        for index in picked {
            fresh.remove(index)
            connections[id]!.offers.insert(index)
            connections[id]!.pending.append(index)
        }
    }

    private mutating func markOut(_ index: Int) {
        guard out.insert(index) else { return }
        fresh.remove(index)
        // The piece is in the swarm now: whoever it was offered to gets it from a peer.
        for id in connections.keys where connections[id]!.offers.contains(index) {
            connections[id]!.offers.remove(index)
        }
        if out.isFull { queueUnheld(for: connections.keys.sorted(), pieces: Array(0..<pieceCount)) }
    }

    /// Queues, for each of `ids`, the `pieces` no connection holds (so it lacks them too).
    private mutating func queueUnheld(for ids: [Int], pieces: [Int]) {
        for id in ids {
            // It lacks the piece, so any holder is another connection.
            for index in pieces where holderCount[index] == 0 && !connections[id]!.told.contains(index) {
                connections[id]!.pending.append(index)
            }
        }
    }

    private mutating func revealAll() {
        isRevealed = true
        for id in connections.keys {
            for index in 0..<pieceCount where !connections[id]!.told.contains(index) { connections[id]!.pending.append(index) }
        }
    }
}
