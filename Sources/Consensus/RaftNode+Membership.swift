/// Single-server configuration changes (Raft dissertation §4.1 and Ongaro's 2015 correction):
/// the leader appends a configuration entry only once it has committed an entry of its own
/// term, and only when the previous change is committed. The new configuration takes effect
/// on each node as soon as the entry is in its log.
extension RaftNode {
    /// Proposes one configuration change; only a leader accepts. Returns where the entry
    /// landed: the change is in force on this node at once and final once that index commits.
    public mutating func proposeConfigurationChange(_ change: ConfigurationChange) throws(ConfigurationError) -> ProposalTicket {
        precondition(!isAwaitingAdvance, "input before advance()")
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard transferee == 0 else { throw .transferring }
        // Until an entry of this term commits, a configuration entry of an earlier leader that
        // this leader does not hold may still commit, and two changes would overlap.
        guard hasCommittedInTerm || config.isConfigurationChangeBeforeTermCommitAllowed else { throw .notCommittedInTerm }
        guard !isConfigurationChangePending else { throw .changeInProgress }
        let next = try configuration(after: change)
        precondition(next.entryViolation == nil, "change \(change) made an invalid configuration")
        guard isQuorumReachable(in: next) else { throw .wouldLoseQuorum }
        let entry = Entry(term: term, index: log.lastIndex + 1, kind: .configuration, data: next.encoded())
        appendToLeaderLog(entry)
        return ProposalTicket(index: entry.index, term: entry.term)
    }

    /// The configuration in force at the commit index (the simulator's operator shuts down
    /// trackers outside it).
    public var committedConfiguration: Configuration { log.configurations.configuration(at: log.committed) }

    /// For a leader: the learners whose logs are within `learnerPromotionLagMax` of its last
    /// index and that answered it within an election timeout (the host promotes them).
    public var learnersReadyForPromotion: [NodeID] {
        guard role == .leader else { return [] }
        return configuration.learnerIDs.filter(isCaughtUp)
    }

    /// For a leader: members whose incarnation is not pinned, with the incarnation their latest
    /// answer carried (this node's own included), ascending by id. The host pins them one
    /// change at a time, so that a member that later comes back with an empty data directory
    /// (another incarnation) is refused as that member.
    public var membersToPin: [(id: NodeID, incarnation: UInt64)] {
        guard role == .leader else { return [] }
        return configuration.members.compactMap { member in
            guard member.incarnation == 0 else { return nil }
            let seen = member.id == config.id ? config.incarnation : (progress[member.id].map { $0.hasAnswered ? $0.incarnation : 0 } ?? 0)
            return seen == 0 ? nil : (member.id, seen)
        }
    }

    /// The configuration `change` makes of the one in force, or why it may not be made.
    func configuration(after change: ConfigurationChange) throws(ConfigurationError) -> Configuration {
        let current = configuration
        switch change {
        case let .addLearner(id, address, incarnation, fingerprint):
            return try current.adding(Member(id: id, role: .learner, incarnation: incarnation, address: address, fingerprint: fingerprint))
        case let .addWitness(id, address, incarnation, fingerprint):
            guard current.witnessID == nil else { throw .witnessAlreadyPresent }
            return try current.adding(Member(id: id, role: .witness, incarnation: incarnation, address: address, fingerprint: fingerprint))
        case let .promote(id):
            guard var member = current.member(id) else { throw .unknownMember }
            guard member.role == .learner else { throw .notLearner }
            guard isCaughtUp(id) else { throw .learnerNotCaughtUp }
            member.role = .voter
            return current.replacing(member)
        case let .demote(id):
            guard var member = current.member(id) else { throw .unknownMember }
            guard member.role == .voter else { throw .notVoter }
            guard current.fullVoterIDs.count > 1 else { throw .removingLastVoter }
            member.role = .learner
            return current.replacing(member)
        case let .remove(id):
            guard let member = current.member(id) else { throw .unknownMember }
            guard member.role != .voter || current.fullVoterIDs.count > 1 else { throw .removingLastVoter }
            return current.removing(id)
        case let .pin(id, incarnation):
            guard var member = current.member(id) else { throw .unknownMember }
            guard member.incarnation == 0, incarnation != 0 else { throw .alreadyPinned }
            member.incarnation = incarnation
            return current.replacing(member)
        }
    }

    /// Whether `id` is a member whose log is within `learnerPromotionLagMax` of this leader's
    /// last index, that answered this leader within an election timeout.
    func isCaughtUp(_ id: NodeID) -> Bool {
        guard let pr = progress[id], pr.isHeard(within: config.electionTimeoutTicks) else { return false }
        // match <= lastIndex (checkInvariants): no overflow.
        return log.lastIndex - pr.match <= UInt64(config.learnerPromotionLagMax)
    }

    /// Whether the voting members of `next` that answered this leader within an election
    /// timeout (itself included, if it votes in `next`) are a quorum of `next`.
    func isQuorumReachable(in next: Configuration) -> Bool {
        next.isQuorum(next.votingIDs.filter { id in
            id == config.id || progress[id]?.isHeard(within: config.electionTimeoutTicks) ?? false
        })
    }

    /// After a configuration entry is appended: a member new to the leader is sent the entry
    /// at once and probed back from there. A member the entry removes is still replicated to
    /// (it does not count) until the entry commits, so that it learns of its removal and stays
    /// quiet; `pruneRemovedProgress` then forgets it.
    mutating func updateProgressForConfiguration() {
        for id in configuration.ids where progress[id] == nil {
            progress[id] = Progress(next: log.lastIndex) // the entry just appended: lastIndex >= 1
        }
        updateWitnessEngagement()
    }

    /// Once the configuration in force is committed, the leader tracks exactly its members
    /// (and itself).
    mutating func pruneRemovedProgress() {
        guard !isConfigurationChangePending else { return }
        for id in progress.keys.sorted() where id != config.id && configuration.member(id) == nil {
            progress[id] = nil
            if transferee == id { transferee = 0 }
        }
    }

    /// A leader that the committed configuration no longer counts as a full voter (it removed
    /// or demoted itself) steps down (dissertation §4.2.2), handing leadership to a full voter
    /// whose log is complete if there is one, so the cluster need not wait an election timeout.
    mutating func maybeStepDownAfterRemoval() {
        guard role == .leader, !isFullVoter(in: configuration), !isConfigurationChangePending else { return }
        if let target = preferredTransferTarget, progress[target]!.match == log.lastIndex {
            send(Message(kind: .timeoutNow, from: config.id, to: target, term: term))
        }
        becomeFollower(term: term, leader: 0)
    }
}

extension Configuration {
    /// This configuration with a new member, or why it cannot take one.
    func adding(_ member: Member) throws(ConfigurationError) -> Configuration {
        guard member.id != 0, Configuration.isValidAddress(member.address), Configuration.isValidFingerprint(member.fingerprint) else {
            throw .invalidMember
        }
        guard self.member(member.id) == nil else { throw .alreadyMember }
        guard members.count < Configuration.membersMax else { throw .tooManyMembers }
        return replacing(member)
    }
}
