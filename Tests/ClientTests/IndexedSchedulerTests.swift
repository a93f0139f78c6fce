import PeerTransfer
import Testing

/// A seeded generator (SplitMix64), so a run is a function of its seed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The indexed scheduler against the scan it replaced: the same requests, outcomes and answers
/// for random peers, holdings, announcements, requests, pieces, refusals and departures.
@Suite("indexed piece scheduler")
struct IndexedSchedulerTests {
    @Test("the index makes the scan's choices, step for step", arguments: [1, 3, 63, 64, 65, 130, 300])
    func sameChoicesAsTheScan(pieceCount: Int) {
        for seed in UInt64(1)...12 {
            var ops = SeededRandom(seed: seed &* 7_919 &+ UInt64(pieceCount))
            let have = (0..<pieceCount).map { _ in Int.random(in: 0..<8, using: &ops) == 0 }
            var indexed = PieceScheduler(pieceCount: pieceCount, have: have)
            var scan = ScanScheduler(pieceCount: pieceCount, have: have)
            var randomA = SeededRandom(seed: seed)
            var randomB = SeededRandom(seed: seed)
            var requested: [Int: [Int]] = [:]
            for step in 0..<400 {
                let ids = requested.keys.sorted()
                let id = ids.isEmpty ? 1 : ids[Int.random(in: 0..<ids.count, using: &ops)]
                switch Int.random(in: 0..<10, using: &ops) {
                case 0 where ids.count < 6:
                    let new = (ids.last ?? 0) + 1
                    indexed.addPeer(new, nowMillis: 0)
                    scan.addPeer(new, nowMillis: 0)
                    requested[new] = []
                case 1 where !ids.isEmpty && Int.random(in: 0..<4, using: &ops) == 0:
                    indexed.removePeer(id)
                    scan.removePeer(id)
                    requested[id] = nil
                case 2:
                    // Now and then a peer that holds everything (a sharer).
                    let isSharer = Int.random(in: 0..<3, using: &ops) == 0
                    let holds = (0..<pieceCount).map { _ in isSharer || Bool.random(using: &ops) }
                    indexed.setHoldings(id, holds: holds)
                    scan.setHoldings(id, holds: holds)
                case 3:
                    let pieces = (0..<4).map { _ in Int.random(in: -1...pieceCount, using: &ops) }
                    indexed.addHoldings(id, pieces: pieces)
                    scan.addHoldings(id, pieces: pieces)
                case 4, 5, 6:
                    let now = UInt64(step) * 25
                    let a = indexed.nextRequest(for: id, random: &randomA, nowMillis: now)
                    let b = scan.nextRequest(for: id, random: &randomB, nowMillis: now)
                    #expect(a == b, "seed \(seed) step \(step): indexed \(String(describing: a)), scan \(String(describing: b))")
                    if let a { requested[id, default: []].append(a) }
                case 7...8 where !(requested[id] ?? []).isEmpty:
                    let index = requested[id]!.removeFirst()
                    let isValid = Int.random(in: 0..<10, using: &ops) > 0
                    let a = indexed.received(id, userID: "u\(id)", index: index, byteCount: 100, isValid: isValid)
                    let b = scan.received(id, userID: "u\(id)", index: index, byteCount: 100, isValid: isValid)
                    #expect(a == b, "seed \(seed) step \(step)")
                case 9 where !(requested[id] ?? []).isEmpty:
                    let index = requested[id]!.removeFirst()
                    let isHeld = Bool.random(using: &ops)
                    indexed.cancelRequest(id, index: index, isHeld: isHeld)
                    scan.cancelRequest(id, index: index, isHeld: isHeld)
                default:
                    break
                }
                indexed.checkInvariants()
                #expect(indexed.doneCount == scan.doneCount && indexed.isComplete == scan.isComplete)
                for peer in ids {
                    #expect(indexed.peerIsComplete(peer) == scan.peerIsComplete(peer))
                    #expect(indexed.peerHasMissingPieces(peer) == scan.peerHasMissingPieces(peer))
                }
            }
            #expect(indexed.done == scan.done)
        }
    }

    @Test("rarest first across buckets: a piece one peer holds goes before those two or three hold")
    func rarestAcrossBuckets() {
        var s = PieceScheduler(pieceCount: 200, have: Array(repeating: false, count: 200))
        var random = SeededRandom(seed: 3)
        for id in 1...3 { s.addPeer(id, nowMillis: 0) }
        // All three are partial peers (a sharer is asked otherwise: see below).
        s.setHoldings(1, holds: (0..<200).map { $0 != 199 })
        s.setHoldings(2, holds: (0..<200).map { $0 != 150 })
        s.setHoldings(3, holds: (0..<200).map { $0 != 150 && $0 != 170 })
        #expect(s.nextRequest(for: 1, random: &random) == 150, "held by peer 1 only")
        #expect(s.nextRequest(for: 1, random: &random) == 170, "held by peers 1 and 2")
        let third = s.nextRequest(for: 1, random: &random)!
        #expect(third < TransferLimits.rarestWindowPieces, "ties go to the first pieces in index order")
        s.checkInvariants()
    }

    @Test("a sharer is asked only for pieces no downloader peer holds, and duplicates only once they have no free piece")
    func sharerAfterPartialPeers() {
        var s = PieceScheduler(pieceCount: 4, have: [false, false, false, false])
        var random = SeededRandom(seed: 8)
        s.addPeer(1, nowMillis: 0)
        s.addPeer(2, nowMillis: 0)
        s.setHoldings(1, holds: [true, true, true, true])
        s.setHoldings(2, holds: [true, true, false, false])
        var fromSharer: [Int] = []
        while let index = s.nextRequest(for: 1, random: &random) { fromSharer.append(index) }
        #expect(fromSharer.sorted() == [2, 3], "pieces 0 and 1 come from the other downloader")
        #expect(s.nextRequest(for: 2, random: &random) != nil)
        #expect(s.nextRequest(for: 1, random: &random) == nil, "peer 2 still has a free piece to give")
        #expect(s.nextRequest(for: 2, random: &random) != nil)
        #expect(s.nextRequest(for: 1, random: &random) == nil, "pieces 2 and 3 are still in flight on the sharer")
        #expect(s.received(1, userID: "s", index: 2, byteCount: 1, isValid: true) == .accepted)
        #expect(s.received(1, userID: "s", index: 3, byteCount: 1, isValid: true) == .accepted)
        #expect(s.nextRequest(for: 1, random: &random) != nil, "now the endgame may duplicate on the sharer")
        #expect(s.nextRequest(for: 1, random: &random) == nil, "one duplicate at a time")
        s.checkInvariants()
    }

    @Test("no duplicate while a missing piece is not in flight (the endgame starts when every missing piece is)")
    func endgameWaitsForFreePieces() {
        var s = PieceScheduler(pieceCount: 2, have: [false, false])
        var random = SeededRandom(seed: 2)
        for id in 1...3 { s.addPeer(id, nowMillis: 0) }
        s.setHoldings(1, holds: [true, false])
        s.setHoldings(2, holds: [true, false])
        s.setHoldings(3, holds: [false, true])
        #expect(s.nextRequest(for: 1, random: &random) == 0)
        #expect(s.nextRequest(for: 2, random: &random) == nil, "piece 1 (at peer 3) is not in flight yet")
        #expect(s.nextRequest(for: 3, random: &random) == 1)
        #expect(s.nextRequest(for: 2, random: &random) == 0, "now every piece is in flight: duplicate")
        s.checkInvariants()
        var offeredFew = PieceScheduler(pieceCount: 3, have: [false, false, false])
        offeredFew.addPeer(1, nowMillis: 0)
        offeredFew.addPeer(2, nowMillis: 0)
        offeredFew.setHoldings(1, holds: [true, false, false])
        offeredFew.setHoldings(2, holds: [true, false, false])
        #expect(offeredFew.nextRequest(for: 1, random: &random) == 0)
        #expect(offeredFew.nextRequest(for: 2, random: &random) == nil, "pieces 1 and 2 are missing and no peer offers them yet")
    }

    @Test("the endgame duplicates the least-requested piece in flight, at most twice, never on the same peer")
    func endgame() {
        var s = PieceScheduler(pieceCount: 3, have: [false, false, false])
        var random = SeededRandom(seed: 5)
        for id in 1...3 {
            s.addPeer(id, nowMillis: 0)
            s.setHoldings(id, holds: [true, true, true])
        }
        let first = (0..<3).compactMap { _ in s.nextRequest(for: 1, random: &random) }
        #expect(first.sorted() == [0, 1, 2])
        #expect(s.nextRequest(for: 1, random: &random) == nil)
        #expect(s.nextRequest(for: 2, random: &random) == 0, "the lowest in flight once")
        #expect(s.nextRequest(for: 3, random: &random) == 1, "piece 0 is in flight twice now")
        #expect(s.received(1, userID: "a", index: 1, byteCount: 1, isValid: true) == .accepted)
        #expect(s.received(3, userID: "c", index: 1, byteCount: 1, isValid: true) == .duplicate)
        #expect(s.nextRequest(for: 3, random: &random) == 2)
        #expect(s.nextRequest(for: 3, random: &random) == nil, "piece 0 is requested twice already")
        s.checkInvariants()
    }

    @Test("the peer list is asked again soon while new peers appear, and backs off to once a second")
    func peerRefresh() {
        let shortest = UInt64(TransferLimits.peerRefreshMinMillis)
        var wait = shortest
        var waits: [UInt64] = []
        for _ in 0..<8 {
            wait = Download.nextPeerRefreshMillis(after: wait, startedPeers: 0)
            waits.append(wait)
        }
        #expect(waits.first == 2 * shortest && waits.last == UInt64(TransferLimits.peerRefreshMillis))
        #expect(zip(waits, waits.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(Download.nextPeerRefreshMillis(after: UInt64(TransferLimits.peerRefreshMillis), startedPeers: 1) == shortest,
                "a new peer (another downloader announcing) makes the next ask soon")
        #expect(shortest <= 100, "downloaders starting together find each other within a few hundred milliseconds")
    }
}
