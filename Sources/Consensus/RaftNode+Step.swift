/// Roles, elections and message handling: one `step` that settles the term first, then
/// dispatches on role, as in the Raft paper and etcd raft.
extension RaftNode {
    // MARK: - Role changes

    mutating func becomeFollower(term newTerm: UInt64, leader newLeader: NodeID) {
        reset(term: newTerm)
        leader = newLeader
        role = .follower
    }

    mutating func becomePreCandidate() {
        precondition(role != .leader, "leader cannot become pre-candidate")
        dropLeaderState()
        votes = [:]
        leader = 0
        role = .preCandidate
    }

    mutating func becomeCandidate() {
        precondition(role != .leader, "leader cannot become candidate")
        // `campaign` refuses at termMax, and a pre-candidate's term does not change until it
        // becomes a candidate or a follower: `term + 1` stays at most termMax.
        reset(term: term + 1)
        vote = config.id
        role = .candidate
    }

    mutating func becomeLeader() {
        precondition(role == .candidate, "only a candidate becomes leader")
        let granted = votes.filter(\.value).map(\.key)
        reset(term: term)
        leader = config.id
        role = .leader
        for id in configuration.ids + [config.id] {
            progress[id] = Progress(next: log.lastIndex + 1)
        }
        // A full voter that did not grant this leader its vote is not known to be reachable:
        // for the witness rule it counts as unheard until it answers, so a leader elected with
        // the witness's vote engages the witness at once instead of after `witnessEngageTicks`
        // (engaging it is always safe; docs/witness.md).
        for id in configuration.fullVoterIDs where configuration.witnessID != nil && id != config.id && !granted.contains(id) {
            progress[id]!.ticksSinceHeard = config.effectiveWitnessEngageTicks
        }
        progress[config.id]!.match = log.stable
        progress[config.id]!.becomeReplicate()
        appendToLeaderLog(Entry(term: term, index: log.lastIndex + 1, kind: .noop))
        updateWitnessEngagement()
    }

    /// Clears per-term state; pending reads are dropped because this node cannot confirm them.
    mutating func reset(term newTerm: UInt64) {
        if newTerm != term {
            term = newTerm
            vote = 0
        }
        leader = 0
        electionElapsed = 0
        heartbeatElapsed = 0
        randomizedElectionTimeout = config.electionTimeoutTicks
            + Int.random(in: 0..<config.electionTimeoutTicks, using: &random)
        votes = [:]
        dropLeaderState()
    }

    mutating func dropLeaderState() {
        progress = [:]
        transferee = 0
        uncommittedBytes = 0
        needsBroadcast = false
        isWitnessEngaged = false
        droppedReads.append(contentsOf: reads.removeAll())
    }

    // MARK: - Ticks

    mutating func tickElection() {
        if electionElapsed < randomizedElectionTimeout { electionElapsed += 1 }
        guard electionElapsed >= randomizedElectionTimeout else { return }
        // Learners, witnesses and non-members never campaign; their elapsed time stays at the
        // timeout, so that the leader's lease ends for vote requests when the leader goes quiet.
        guard isPromotable else { return }
        electionElapsed = 0
        campaign(isTransfer: false)
    }

    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        for id in otherPeers where progress[id] != nil {
            progress[id]!.ticksSinceHeard += 1
            if progress[id]!.state == .snapshot {
                progress[id]!.ticksInSnapshot += 1
                // A snapshot that got no answer in time is sent again.
                if progress[id]!.ticksInSnapshot >= config.snapshotTimeoutTicks { progress[id]!.becomeProbe() }
            }
        }
        if config.isCheckQuorumEnabled && !hasActiveQuorum() {
            becomeFollower(term: term, leader: 0)
            return
        }
        if electionElapsed >= config.electionTimeoutTicks {
            electionElapsed = 0
            transferee = 0 // a transfer not done within an election timeout is abandoned
        }
        if heartbeatElapsed >= config.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastHeartbeat()
        }
        updateWitnessEngagement()
    }

    /// Whether a quorum of voting members (this node included, if it votes) was heard from
    /// within the last election timeout.
    func hasActiveQuorum() -> Bool {
        var active = 0
        for id in configuration.votingIDs where id == config.id || (progress[id]?.ticksSinceHeard ?? .max) < config.electionTimeoutTicks {
            active += 1
        }
        return active >= quorum
    }

    // MARK: - Elections

    mutating func campaign(isTransfer: Bool) {
        guard isPromotable else { return } // learners, witnesses and non-members never campaign
        guard !isTermExhausted else {
            refusals.record(.termExhausted)
            return
        }
        if config.isPreVoteEnabled && !isTransfer {
            becomePreCandidate()
            requestVotes(kind: .preVote, term: term + 1, isTransfer: false)
        } else {
            becomeCandidate()
            requestVotes(kind: .requestVote, term: term, isTransfer: isTransfer)
        }
    }

    mutating func requestVotes(kind: MessageKind, term voteTerm: UInt64, isTransfer: Bool) {
        if poll(config.id, granted: true) { return }
        for id in otherVoters {
            send(Message(kind: kind, from: config.id, to: id, term: voteTerm, logTerm: log.lastTerm,
                         index: log.lastIndex, context: isTransfer ? 1 : 0))
        }
    }

    /// Counts a vote; returns true when it decided the election (won or lost). Only voting
    /// members of this node's configuration count (a learner's grant never does).
    @discardableResult
    mutating func poll(_ id: NodeID, granted: Bool) -> Bool {
        if votes[id] == nil { votes[id] = granted }
        let counted = votes.filter { configuration.isVoting($0.key) }
        let granted = counted.values.filter { $0 }.count
        let rejected = counted.count - granted
        if granted >= quorum {
            if role == .preCandidate {
                // The pre-vote is won: hold the real election (this recurses at most once).
                becomeCandidate()
                requestVotes(kind: .requestVote, term: term, isTransfer: false)
            } else {
                becomeLeader()
                broadcastAppend(sendIfEmpty: true)
            }
            return true
        }
        if rejected >= quorum {
            becomeFollower(term: term, leader: 0)
            return true
        }
        return false
    }

}
