import Consensus
import TrackerHosting

/// The Raft checkers, run as the simulation goes: one leader per term, leader completeness,
/// committed entries never change, every replica applies the same sequence, log matching; and
/// the recovery checks after the heal.
extension Simulation {
    /// Election safety and leader completeness, when node `index` becomes leader of `term`.
    func checkNewLeader(_ index: Int, term: UInt64, host: TrackerHost) {
        let id = nodes[index].id
        checker.leadersElected += 1
        if let other = checker.leaderOfTerm[term], other != id {
            fail("at most one leader per term", "trackers \(other) and \(id) both lead term \(term)")
            return
        }
        checker.leaderOfTerm[term] = id
        // Leader completeness (Raft §5.4): entries committed in earlier terms are in its log.
        // A leader of an old term, elected late by delayed votes, may lack later commits.
        for (offset, committedTerm) in checker.committedTerms.enumerated() {
            guard checker.commitTerms[offset] < term else { break }
            let entryIndex = UInt64(offset + 1)
            // Entries its snapshot covers are held as the snapshot (its last one's term is known).
            if let covered = host.raft.snapshotMeta, entryIndex < covered.index,
               host.raft.term(at: entryIndex) == nil { continue }
            guard host.raft.term(at: entryIndex) == committedTerm else {
                fail("leader completeness", "leader \(id) of term \(term) lacks committed entry \(entryIndex) of term \(committedTerm)")
                return
            }
        }
    }

    /// A committed index holds one entry forever, whichever node says it is committed.
    func checkCommitted(_ index: Int, host: TrackerHost) {
        let raft = host.raft
        let commit = raft.commitIndex
        guard commit > nodes[index].checkedCommit else { return }
        for entryIndex in (nodes[index].checkedCommit + 1)...commit {
            // Entries a snapshot replaced are not held any more; others checked them.
            guard let term = raft.term(at: entryIndex) else { continue }
            let position = Int(entryIndex - 1)
            if position < checker.committedTerms.count {
                guard checker.committedTerms[position] == term else {
                    fail("committed entries never change", "tracker \(index + 1) committed term \(term) at \(entryIndex), cluster had term \(checker.committedTerms[position])")
                    return
                }
            } else {
                checker.committedTerms.append(term)
                checker.commitTerms.append(max(raft.term, checker.commitTerms.last ?? 0))
            }
        }
        nodes[index].checkedCommit = commit
    }

    /// State machine safety: every replica applies the same entry at each index.
    func checkApplied(_ index: Int, _ entry: Entry) {
        let fingerprint = ClusterChecker.fingerprint(entry)
        let position = Int(entry.index - 1)
        if position < checker.appliedFingerprints.count {
            if checker.appliedFingerprints[position] != fingerprint {
                fail("replicas apply identical sequences", "tracker \(index + 1) applied a different entry at \(entry.index) (term \(entry.term))")
            }
        } else if position == checker.appliedFingerprints.count {
            checker.appliedFingerprints.append(fingerprint)
        } else {
            fail("replicas apply identical sequences", "tracker \(index + 1) applied \(entry.index) past the end of the cluster's applied log")
        }
    }

    /// Log matching over every pair of disks: once two logs differ at an index they may not hold
    /// an equal entry (same index and term) later, and equal terms mean equal entries.
    func checkLogMatching() {
        for a in nodes.indices {
            for b in nodes.indices where b > a {
                let left = nodes[a].disk.current
                let right = nodes[b].disk.current
                let leftBase = Int(left.snapshot?.meta.index ?? 0), rightBase = Int(right.snapshot?.meta.index ?? 0)
                let first = max(leftBase, rightBase) + 1
                let last = min(leftBase + left.entries.count, rightBase + right.entries.count)
                var hasDiverged = false
                for index in stride(from: first, through: last, by: 1) {
                    let l = left.entries[index - leftBase - 1], r = right.entries[index - rightBase - 1]
                    if l.term == r.term {
                        guard !hasDiverged, l == r else {
                            fail("log matching", "trackers \(a + 1) and \(b + 1) hold entry \(index) of term \(l.term) with different logs before or different data")
                            return
                        }
                    } else {
                        hasDiverged = true
                    }
                }
            }
        }
    }

    /// After the heal: a leader within two maximum election timeouts.
    func checkLeaderAfterHeal() {
        guard leaderIndex == nil else { return }
        let bound = leaderAfterHealBoundMicros
        fail("leader after heal", "no leader \(bound / 1_000)ms after the heal")
    }

    /// After the heal: every command pending at the heal finished within 5 seconds.
    func checkPendingAfterHeal() {
        guard let healed = healedAtMicros else { return }
        for client in clients.indices {
            guard let op = clients[client].current, op.invokedMicros <= healed else { continue }
            fail("pending commands finish after heal", "client \(client) seq=\(op.request.sequence) \(op.kind) still pending \(Self.pendingAfterHealMicros / 1_000)ms after the heal")
            return
        }
        if history.unknownAfterHeal > 0 {
            fail("pending commands finish after heal", "\(history.unknownAfterHeal) operations gave up after the heal")
        }
    }

    /// Two maximum election timeouts at default timing.
    static let leaderAfterHealMicros: UInt64 = 2 * 2 * 15 * tickMicros
    /// In liveness mode a bare majority must elect: split votes among exactly a quorum repeat
    /// more often, so the bound is a few more election rounds.
    static let leaderAfterCoreHealMicros: UInt64 = 2_000_000
    /// With a witness, only a full tracker whose log reaches the witness's mark can be elected,
    /// and that one may be in a disk stall (up to 2 s) at the heal: the bound allows two stalls.
    static let leaderAfterWitnessHealMicros: UInt64 = 4_000_000
    /// How long after the heal a leader must exist.
    var leaderAfterHealBoundMicros: UInt64 {
        if options.hasWitness { return Self.leaderAfterWitnessHealMicros }
        return isLivenessMode ? Self.leaderAfterCoreHealMicros : Self.leaderAfterHealMicros
    }
    /// How long commands pending at the heal may take to finish.
    static let pendingAfterHealMicros: UInt64 = 5_000_000

    /// The running tracker that leads the highest term, if any.
    public var leaderIndex: Int? {
        var best: Int?
        for index in nodes.indices {
            guard nodes[index].isUp, nodes[index].host.raft.role == .leader else { continue }
            if best == nil || nodes[index].host.raft.term > nodes[best!].host.raft.term { best = index }
        }
        return best
    }
}
