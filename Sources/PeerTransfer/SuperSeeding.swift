/// What a server holding a whole file tells the downloaders connected to it, so that each piece
/// leaves it once before any piece leaves it twice (BitTorrent's super-seeding, BEP 16): no
/// I/O, no clock, driven by the server's connection threads (under one lock) and by tests.
///
/// Each connection is *offered* (told by `have`, or in its first bitfield) up to
/// `superSeedOfferPieces` pieces that are not yet *out*, each offered to one connection only,
/// lowest index first. A piece is out once it was served, or once a downloader said it holds
/// it (it got it elsewhere). Serving a piece tops its connection's offers up again. While not
/// revealed, a request for anything but a piece offered to that connection and not yet out is
/// refused: the downloader gets it from the peer that has it. Once every piece is out, or when
/// more than `downloadersMax` connections download the file, everything is revealed and the
/// server serves like any other (revealing is final).
public struct SuperSeeding: Sendable {
    struct Connection: Sendable {
        /// Pieces this downloader holds (it said so, or we served it).
        var holds: PieceBits
        /// Pieces offered to it that are not out yet.
        var offers: PieceBits
        /// Pieces it was told we hold.
        var told: PieceBits
    }

    /// Pieces of the file.
    public let pieceCount: Int
    /// Connections above which everything is revealed.
    public let downloadersMax: Int
    /// Pieces kept offered to each connection.
    public let offerPieces: Int
    /// Pieces that went out once.
    public private(set) var out: PieceBits
    /// Pieces neither out nor offered to anyone.
    private var fresh: PieceBits
    private var connections: [Int: Connection] = [:]
    /// Whether every piece is offered to every connection (final).
    public private(set) var isRevealed = false
    /// Pieces served, counting second copies (for tests and logs).
    public private(set) var servedCount = 0

    /// Nothing out yet, for a file of `pieceCount` pieces.
    public init(pieceCount: Int, downloadersMax: Int = TransferLimits.superSeedDownloadersMax,
                offerPieces: Int = TransferLimits.superSeedOfferPieces) {
        self.pieceCount = max(0, pieceCount)
        self.downloadersMax = max(1, downloadersMax)
        self.offerPieces = max(1, offerPieces)
        out = PieceBits(count: self.pieceCount)
        fresh = PieceBits(flags: Array(repeating: true, count: self.pieceCount))
        isRevealed = self.pieceCount == 0
    }

    /// Connections downloading now.
    public var connectionCount: Int { connections.count }

    /// A downloader connected as `id`; returns the pieces to tell it we hold.
    public mutating func join(_ id: Int) -> [Int] {
        leave(id)
        connections[id] = Connection(holds: PieceBits(count: pieceCount), offers: PieceBits(count: pieceCount),
                                     told: PieceBits(count: pieceCount))
        if connections.count > downloadersMax { isRevealed = true }
        return announcements(for: id)
    }

    /// The downloader `id` ended: pieces offered to it that are not out are fresh again.
    public mutating func leave(_ id: Int) {
        guard let connection = connections.removeValue(forKey: id) else { return }
        connection.offers.forEachMember(from: 0) { fresh.insert($0); return true }
    }

    /// Downloader `id` said it holds `pieces` (indices out of range are ignored).
    public mutating func peerHas(_ id: Int, pieces: [Int]) {
        guard connections[id] != nil else { return }
        for index in pieces where index >= 0 && index < pieceCount {
            connections[id]!.holds.insert(index)
            markOut(index)
        }
    }

    /// Whether piece `index` may be served to `id` now.
    public func mayServe(_ id: Int, index: Int) -> Bool {
        guard let connection = connections[id], index >= 0, index < pieceCount else { return false }
        return isRevealed || (connection.offers.contains(index) && !out.contains(index))
    }

    /// Piece `index` was sent to `id`.
    public mutating func served(_ id: Int, index: Int) {
        guard index >= 0, index < pieceCount else { return }
        servedCount += 1
        connections[id]?.holds.insert(index)
        markOut(index)
    }

    /// A request of `id` for `index` was refused: it is no longer told we hold the piece (a
    /// later reveal tells it again).
    public mutating func refused(_ id: Int, index: Int) {
        connections[id]?.told.remove(index)
    }

    /// Pieces to tell `id` we hold now: its new offers, or, once revealed, everything it was not
    /// told yet. Empty when there is nothing new.
    public mutating func announcements(for id: Int) -> [Int] {
        guard var connection = connections[id] else { return [] }
        var new: [Int] = []
        if isRevealed {
            for index in 0..<pieceCount where connection.told.insert(index) { new.append(index) }
        } else {
            var wanted = offerPieces - connection.offers.memberCount
            if wanted > 0 {
                let holds = connection.holds
                fresh.forEachMember(from: 0, mask: { ~holds.word(at: $0) }) { index in
                    new.append(index)
                    wanted -= 1
                    return wanted > 0
                }
            }
            for index in new {
                fresh.remove(index)
                connection.offers.insert(index)
                connection.told.insert(index)
            }
        }
        connections[id] = connection
        return new
    }

    private mutating func markOut(_ index: Int) {
        guard out.insert(index) else { return }
        fresh.remove(index)
        // The piece is in the swarm now: whoever it was offered to gets it from a peer.
        for id in connections.keys where connections[id]!.offers.contains(index) {
            connections[id]!.offers.remove(index)
        }
        if out.isFull { isRevealed = true }
    }
}
