import PeerTransfer
import Testing

/// The super-seeding rule: a sharer hands each piece out once before it hands any piece out
/// twice, while downloaders are few.
@Suite("super-seeding")
struct SuperSeedingTests {
    @Test("offers are exclusive, lowest first, capped per downloader; a leaver's offers go to the next")
    func offers() {
        var s = SuperSeeding(pieceCount: 40, downloadersMax: 4, offerPieces: 5)
        let a = s.join(1, nowMillis: 0), b = s.join(2, nowMillis: 0)
        #expect(a == [0, 1, 2, 3, 4] && b == [5, 6, 7, 8, 9])
        #expect(s.announcements(for: 1, nowMillis: 0).isEmpty, "nothing new until something is served")
        #expect(s.mayServe(1, index: 2) && !s.mayServe(2, index: 2), "a piece is offered to one downloader only")
        s.served(1, index: 2, nowMillis: 0)
        #expect(s.announcements(for: 1, nowMillis: 0) == [10], "serving tops the offers up")
        #expect(!s.mayServe(1, index: 2), "a piece that went out is not served again before the reveal")
        s.leave(2)
        #expect(s.join(3, nowMillis: 0) == [5, 6, 7, 8, 9])
        s.peerHas(3, pieces: [6], nowMillis: 0)
        #expect(!s.mayServe(3, index: 6), "it has it")
        #expect(s.announcements(for: 3, nowMillis: 0) == [11])
        #expect(!s.mayServe(1, index: 6) && !s.mayServe(1, index: 30), "never offered to 1")
    }

    @Test("after the round a downloader is told only what no other downloader holds, finished ones included")
    func afterTheRound() {
        var s = SuperSeeding(pieceCount: 6, downloadersMax: 2, offerPieces: 2, starvedMillis: 1_000)
        #expect(s.join(1, nowMillis: 0) == [0, 1])
        #expect(s.join(2, nowMillis: 0) == [2, 3])
        s.peerHas(1, pieces: [0, 1, 2, 3, 4], nowMillis: 0)
        #expect(!s.isRoundComplete)
        s.served(2, index: 5, nowMillis: 0)
        #expect(s.isRoundComplete && !s.isRevealed)
        #expect(s.announcements(for: 1, nowMillis: 10).isEmpty, "piece 5 is at downloader 2: get it there")
        #expect(!s.mayServe(1, index: 5))
        s.leave(2)
        #expect(s.announcements(for: 1, nowMillis: 20) == [5], "its only holder left unfinished")
        #expect(s.mayServe(1, index: 5))

        var staggered = SuperSeeding(pieceCount: 4, downloadersMax: 4, offerPieces: 4, starvedMillis: 1_000)
        #expect(staggered.join(1, nowMillis: 0) == [0, 1, 2, 3])
        for index in 0..<4 { staggered.served(1, index: index, nowMillis: 0) }
        #expect(staggered.join(2, nowMillis: 10).isEmpty, "downloader 1 holds everything")
        staggered.leave(1)
        #expect(staggered.announcements(for: 2, nowMillis: 500).isEmpty, "a finished downloader still shares what it has")
        #expect(!staggered.mayServe(2, index: 0))
        #expect(staggered.announcements(for: 2, nowMillis: 1_010) == [0, 1, 2, 3], "no new piece for a second: it cannot reach them")
        #expect(staggered.mayServe(2, index: 0))
    }

    @Test("more downloaders than the bound are told everything")
    func crowd() {
        var crowded = SuperSeeding(pieceCount: 100, downloadersMax: 2, offerPieces: 2)
        _ = crowded.join(1, nowMillis: 0)
        _ = crowded.join(2, nowMillis: 0)
        #expect(crowded.join(3, nowMillis: 0).count == 100, "a third downloader is more than the bound: everything")
        #expect(crowded.isRevealed && crowded.announcements(for: 1, nowMillis: 0).count == 98)
    }

    @Test("in random swarms no piece is served twice before every piece went out once", arguments: UInt64(1)...40)
    func onceBeforeTwice(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let pieceCount = Int.random(in: 1...60, using: &random)
        var s = SuperSeeding(pieceCount: pieceCount, downloadersMax: 6, offerPieces: Int.random(in: 1...8, using: &random), starvedMillis: 500)
        var told: [Int: Set<Int>] = [:]
        var holds: [Int: Set<Int>] = [:]
        var copies = [Int](repeating: 0, count: pieceCount)
        var nextID = 1
        for step in 0..<3_000 {
            let ids = told.keys.sorted()
            if ids.count < 5 && (ids.isEmpty || Int.random(in: 0..<30, using: &random) == 0) {
                told[nextID] = Set(s.join(nextID, nowMillis: UInt64(step)))
                holds[nextID] = []
                nextID += 1
                continue
            }
            let id = ids[Int.random(in: 0..<ids.count, using: &random)]
            told[id]!.formUnion(s.announcements(for: id, nowMillis: UInt64(step)))
            switch Int.random(in: 0..<20, using: &random) {
            case 0:
                s.leave(id)
                told[id] = nil
                holds[id] = nil
            case 1...9:
                // Mostly what it was told; sometimes (a client of another kind) any piece it lacks.
                let asked = Int.random(in: 0..<4, using: &random) == 0 ? Set(0..<pieceCount) : told[id]!
                let wanted = asked.subtracting(holds[id]!).sorted()
                guard !wanted.isEmpty else { continue }
                let index = wanted[Int.random(in: 0..<wanted.count, using: &random)]
                if s.mayServe(id, index: index) {
                    #expect(copies[index] == 0 || s.isRoundComplete || s.isRevealed, "seed \(seed): piece \(index) served again before every piece went out")
                    copies[index] += 1
                    s.served(id, index: index, nowMillis: UInt64(step))
                    holds[id]!.insert(index)
                } else {
                    s.refused(id, index: index)
                    told[id]!.remove(index)
                }
            default:
                // A peer-to-peer copy: another downloader has a piece this one lacks.
                let others = holds.filter { $0.key != id }.values.reduce(into: Set<Int>()) { $0.formUnion($1) }
                guard let index = others.subtracting(holds[id]!).sorted().first else { continue }
                holds[id]!.insert(index)
                s.peerHas(id, pieces: [index], nowMillis: UInt64(step))
            }
        }
        #expect(copies.allSatisfy { $0 >= 0 })
    }
}
