/// Message handling: the term rules first, then votes, then the role's own handler.
extension RaftNode {
    /// Why `step` would ignore `m`, or nil: addressing, the stateless checks, and what this
    /// node's state shows no correct sender produces. Requests from a sender that is not a
    /// member are processed (dissertation §4.1: a server processes RPCs without consulting its
    /// configuration, or a node behind a change could never catch up); its answers are not,
    /// unless this node leads and still replicates to it (its removal is not committed yet).
    public func refusal(of m: Message) -> MessageRefusal? {
        guard m.to == config.id else { return .wrongRecipient }
        guard m.from != config.id, m.from != 0 else { return .unknownSender }
        if let refusal = m.validationError(limits: config.messageLimits) { return refusal }
        if let pinned = configuration.incarnation(of: m.from) {
            if pinned != 0 && pinned != m.fromIncarnation { return .incarnationMismatch }
        } else if !m.kind.isRequest && !(role == .leader && progress[m.from] != nil) {
            return .answerFromNonMember
        }
        if isWitness {
            if m.kind == .appendEntries || m.kind == .installSnapshot { return .logToWitness }
        } else if m.kind == .witnessAppend {
            return .witnessAppendToNonWitness
        }
        // A follower acknowledges only entries this leader sent it in this term (or entries
        // committed before it, which this leader holds): never more than its log.
        if role == .leader, m.term == term, m.kind == .appendResponse, !m.reject, m.index > log.lastIndex {
            return .acknowledgesBeyondLog
        }
        return nil
    }

    mutating func stepTerm(_ m: Message) {
        if m.term > term {
            if m.kind == .preVote || m.kind == .requestVote {
                let isForced = m.context == 1
                let isInLease = config.isCheckQuorumEnabled && leader != 0 && electionElapsed < config.electionTimeoutTicks
                // A node that hears from a leader ignores elections (pre-vote and check-quorum).
                if !isForced && isInLease { return }
            }
            switch m.kind {
            case .preVote:
                break // a pre-vote never changes our term
            case .preVoteResponse where !m.reject:
                break // granted pre-votes carry the future term we asked for
            case .appendEntries, .heartbeat, .installSnapshot, .witnessAppend:
                becomeFollower(term: m.term, leader: m.from)
            default:
                becomeFollower(term: m.term, leader: 0)
            }
        } else if m.term < term {
            stepStaleTerm(m)
            return
        }
        switch m.kind {
        case .preVote, .requestVote:
            stepVoteRequest(m)
        default:
            switch role {
            case .leader: stepLeader(m)
            case .candidate, .preCandidate: stepCandidate(m)
            case .follower: stepFollower(m)
            }
        }
    }

    /// A message from an older term: tell a stale leader our term so it steps down, refuse a
    /// stale pre-vote, drop the rest.
    mutating func stepStaleTerm(_ m: Message) {
        switch m.kind {
        case .appendEntries, .heartbeat, .installSnapshot, .witnessAppend:
            send(Message(kind: .appendResponse, from: config.id, to: m.from, term: term))
        case .preVote:
            send(Message(kind: .preVoteResponse, from: config.id, to: m.from, term: term, reject: true))
        default:
            break
        }
    }

    /// RequestVote receiver rules, for real votes and pre-votes. A witness compares the
    /// candidate's log with its commit mark instead of a log (docs/witness.md). A learner (or a
    /// non-member) answers like a voter: its vote counts only where the candidate's
    /// configuration makes it a voter, and it must be able to vote when it was promoted by an
    /// entry it has not received yet (etcd raft: else a cluster can be left unable to elect).
    mutating func stepVoteRequest(_ m: Message) {
        let isPreVote = m.kind == .preVote
        let canVote = vote == m.from || (vote == 0 && leader == 0) || (isPreVote && m.term > term)
        let responseKind: MessageKind = isPreVote ? .preVoteResponse : .requestVoteResponse
        let isUpToDate = isWitness
            ? LogMark(term: m.logTerm, index: m.index) >= witnessMark || config.isWitnessMarkIgnoredForVotes
            : log.isUpToDate(lastIndex: m.index, term: m.logTerm)
        if canVote && !isUpToDate && isWitness { refusals.votesBehindWitnessMark &+= 1 }
        if canVote && isUpToDate {
            send(Message(kind: responseKind, from: config.id, to: m.from, term: m.term))
            if !isPreVote {
                electionElapsed = 0
                vote = m.from
            }
        } else {
            send(Message(kind: responseKind, from: config.id, to: m.from, term: term, reject: true))
        }
    }

    mutating func stepFollower(_ m: Message) {
        switch m.kind {
        case .appendEntries:
            electionElapsed = 0
            leader = m.from
            handleAppend(m)
        case .heartbeat:
            electionElapsed = 0
            leader = m.from
            handleHeartbeat(m)
        case .installSnapshot:
            electionElapsed = 0
            leader = m.from
            handleSnapshot(m)
        case .witnessAppend:
            electionElapsed = 0
            leader = m.from
            handleWitnessAppend(m)
        case .timeoutNow:
            campaign(isTransfer: true)
        default:
            break
        }
    }

    mutating func stepCandidate(_ m: Message) {
        switch m.kind {
        case .appendEntries:
            becomeFollower(term: m.term, leader: m.from)
            handleAppend(m)
        case .heartbeat:
            becomeFollower(term: m.term, leader: m.from)
            handleHeartbeat(m)
        case .installSnapshot:
            becomeFollower(term: m.term, leader: m.from)
            handleSnapshot(m)
        case .preVoteResponse where role == .preCandidate:
            poll(m.from, granted: !m.reject)
        case .requestVoteResponse where role == .candidate:
            poll(m.from, granted: !m.reject)
        default:
            break
        }
    }

    /// AppendEntries receiver: consistency check, append, commit, answer.
    mutating func handleAppend(_ m: Message) {
        if m.index < log.committed {
            send(Message(kind: .appendResponse, from: config.id, to: m.from, term: term, index: log.committed))
            return
        }
        if let lastNew = log.maybeAppend(prevIndex: m.index, prevTerm: m.logTerm, leaderCommit: m.commit, newEntries: m.entries) {
            send(Message(kind: .appendResponse, from: config.id, to: m.from, term: term, index: lastNew))
            return
        }
        let hint = log.findConflictByTerm(index: min(m.index, log.lastIndex), term: m.logTerm)
        send(Message(kind: .appendResponse, from: config.id, to: m.from, term: term, logTerm: hint.term,
                     index: m.index, reject: true, rejectHint: hint.index))
    }

    /// InstallSnapshot receiver (Raft §7): a snapshot behind the commit index changes nothing;
    /// one whose last entry this log holds only moves the commit index (the entries after it
    /// stay); otherwise the whole log is replaced by the snapshot.
    mutating func handleSnapshot(_ m: Message) {
        guard let snapshot = m.snapshot else { return }
        let meta = snapshot.meta
        if meta.index > log.committed {
            if log.matchTerm(meta.index, meta.term) {
                log.commit(to: meta.index)
            } else {
                log.restore(meta, initial: config.initialConfiguration)
                snapshotMeta = meta
                pendingSnapshot = snapshot
            }
        }
        send(Message(kind: .appendResponse, from: config.id, to: m.from, term: term, index: log.committed))
    }

    mutating func handleHeartbeat(_ m: Message) {
        log.commit(to: min(m.commit, log.lastIndex))
        // The last index lets a leader notice a follower that lost its log (a wiped disk); a
        // witness answers with its mark's index, for the same reason.
        let index = isWitness ? witnessMark.index : log.lastIndex
        send(Message(kind: .heartbeatResponse, from: config.id, to: m.from, term: term, index: index, context: m.context))
    }

    /// Every message leaves with this node's incarnation.
    mutating func send(_ m: Message) {
        messages.append(m)
        if config.incarnation != 0 { messages[messages.count - 1].fromIncarnation = config.incarnation }
    }
}
