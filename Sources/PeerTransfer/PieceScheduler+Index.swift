/// The scheduler's index: where each piece is filed, and the two scans that use it.
///
/// Invariants (`checkInvariants` asserts them): a piece is in `free[availability[i]]` exactly
/// when it is missing with no request in flight, in no other bucket, and in `inFlight` exactly
/// when it is missing with a request in flight; `availability[i]` is the number of peers
/// holding it; `requestCount[i]` the number of peers that requested it.
extension PieceScheduler {
    /// Files piece `index` where its state says (its availability bucket stays the same).
    mutating func refile(_ index: Int) {
        let level = availability[index]
        while free.count <= level { free.append(PieceBits(count: pieceCount)) }
        let isMissing = missing.contains(index)
        if isMissing && requestCount[index] == 0 { free[level].insert(index) } else { free[level].remove(index) }
        if isMissing && requestCount[index] > 0 { inFlight.insert(index) } else { inFlight.remove(index) }
    }

    /// One more (or fewer) peer holds piece `index`: it moves to the next bucket.
    mutating func changeAvailability(of index: Int, by delta: Int) {
        free[availability[index]].remove(index)
        availability[index] = max(0, availability[index] + delta)
        refile(index)
    }

    /// The holdings of the peers other than `id` that hold some pieces but not all, leaving
    /// out the slow ones (see `requestDepth`).
    func partialHoldings(besides id: Int, nowMillis: UInt64) -> [PieceBits] {
        peers.keys.sorted().compactMap { other in
            guard other != id, let holds = peers[other]?.holds, !holds.isFull, holds.memberCount > 0,
                  requestDepth(for: other, nowMillis: nowMillis) != TransferLimits.requestsInFlightSlowPeer else { return nil }
            return holds
        }
    }

    /// The first `rarestWindowPieces` (in index order) of the free pieces `holds` has, and none
    /// of `others` has, at the lowest availability where there are any.
    func rarestFree(heldBy holds: PieceBits, notHeldByAnyOf others: [PieceBits] = []) -> [Int] {
        var tied: [Int] = []
        var allowed = holds
        if !others.isEmpty {
            allowed.remove(where: { w in others.reduce(0) { $0 | $1.word(at: w) } })
        }
        let mask: (Int) -> UInt64 = { allowed.word(at: $0) }
        for level in free.indices.dropFirst() where free[level].memberCount > 0 {
            free[level].forEachMember(from: lowestMissing, mask: mask) { index in
                tied.append(index)
                return tied.count < TransferLimits.rarestWindowPieces
            }
            if !tied.isEmpty { break }
        }
        return tied
    }

    /// The endgame: a piece in flight elsewhere that `peer` holds and has not been asked for,
    /// with the fewest requests (below `endgameDuplicatesMax`), the lowest index on ties.
    func endgamePiece(for peer: Peer) -> Int? {
        var choice: Int?
        var fewest = TransferLimits.endgameDuplicatesMax
        inFlight.forEachMember(from: lowestMissing, mask: { peer.holds.word(at: $0) & ~peer.requested.word(at: $0) }) { index in
            if requestCount[index] < fewest {
                fewest = requestCount[index]
                choice = index
            }
            return true
        }
        return choice
    }

    mutating func advanceLowestMissing() {
        while lowestMissing < pieceCount && done[lowestMissing] { lowestMissing += 1 }
    }

    /// Traps when the index disagrees with the pieces' state (tests call it after each step).
    public func checkInvariants() {
        for index in 0..<pieceCount {
            let holders = peers.values.count { $0.holds.contains(index) }
            let requesters = peers.values.count { $0.requested.contains(index) }
            precondition(availability[index] == holders, "availability of \(index)")
            precondition(requestCount[index] == requesters, "request count of \(index)")
            precondition(missing.contains(index) == !done[index], "missing \(index)")
            let isFree = !done[index] && requestCount[index] == 0
            for level in free.indices {
                precondition(free[level].contains(index) == (isFree && level == availability[index]), "bucket of \(index)")
            }
            precondition(inFlight.contains(index) == (!done[index] && requestCount[index] > 0), "in flight \(index)")
        }
        precondition(done.count { $0 } == doneCount, "done count")
    }
}
