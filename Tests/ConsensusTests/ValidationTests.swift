import Testing
@testable import Consensus

/// One example per refusal reason: a message the core accepts, and the same message with one
/// field made hostile, which it refuses without changing anything.
@Suite("Message validation")
struct ValidationTests {
    /// Follower 2 of three in term 5, holding entries 1...3 of term 1 (2 committed), with small
    /// byte limits so oversized payloads are cheap to build.
    static func follower(configuration: Configuration? = nil) -> RaftNode {
        var config = RaftConfig(id: 2, peers: [1, 2, 3])
        if let configuration { config.initialConfiguration = configuration }
        config.messageLimits.entryDataBytesMax = 64
        config.appendBytesMax = 64
        config.messageLimits.snapshotBytesMax = 64
        let entries = (1...3).map { Entry(term: 1, index: UInt64($0), data: [UInt8($0)]) }
        return try! RaftNode(config: config, persisted: PersistedState(hardState: HardState(term: 5, commit: 2), entries: entries))
    }

    static let append = Message(kind: .appendEntries, from: 1, to: 2, term: 5, logTerm: 1, index: 3,
                                entries: [Entry(term: 5, index: 4, data: [4]), Entry(term: 5, index: 5, kind: .noop)], commit: 3)
    static let heartbeat = Message(kind: .heartbeat, from: 1, to: 2, term: 5, commit: 2)
    static let vote = Message(kind: .requestVote, from: 3, to: 2, term: 6, logTerm: 1, index: 3)
    static let snapshot = Message(kind: .installSnapshot, from: 1, to: 2, term: 5,
                                  snapshot: Snapshot(meta: SnapshotMeta(index: 9, term: 4), data: [1, 2]))

    /// The node, an accepted message, and its hostile twin, for `reason`.
    static func example(_ reason: MessageRefusal) -> (node: RaftNode, valid: Message, invalid: Message) {
        var node = follower()
        var valid = append
        var invalid = append
        switch reason {
        case .wrongRecipient: invalid.to = 3
        case .unknownSender: invalid.from = 2 // itself (a non-member, say 9, on a link is senderNotLinkPeer)
        case .senderNotLinkPeer: invalid.from = 3
        case .termTooLarge: (valid, invalid) = (heartbeat, heartbeat); invalid.term = node.config.messageLimits.termMax + 1
        case .indexTooLarge: (valid, invalid) = (heartbeat, heartbeat); invalid.commit = node.config.messageLimits.indexMax + 1
        case .logTermAboveTerm: invalid.logTerm = 6
        case .entriesOnWrongKind: (valid, invalid) = (heartbeat, heartbeat); invalid.entries = [Entry(term: 5, index: 1)]
        case .tooManyEntries:
            invalid.entries = (0..<(node.config.messageLimits.entriesPerMessageMax + 1)).map { Entry(term: 5, index: UInt64($0) + 4) }
        case .entryTooLarge: invalid.entries[0].data = [UInt8](repeating: 7, count: 65)
        case .noopWithData: invalid.entries[1].data = [1]
        case .entriesNotContiguous: invalid.entries[1].index = 6
        case .entryTermDecreasing: invalid.entries[1].term = 4
        case .entryTermAboveTerm: invalid.entries[1].term = 6
        case .commitOnWrongKind: (valid, invalid) = (vote, vote); invalid.commit = 1
        case .snapshotMissing: (valid, invalid) = (snapshot, snapshot); invalid.snapshot = nil
        case .snapshotOnWrongKind: (valid, invalid) = (heartbeat, heartbeat); invalid.snapshot = snapshot.snapshot
        case .snapshotAtIndexZero: (valid, invalid) = (snapshot, snapshot); invalid.snapshot!.meta.index = 0
        case .snapshotTermInvalid: (valid, invalid) = (snapshot, snapshot); invalid.snapshot!.meta.term = 6
        case .snapshotTooLarge: (valid, invalid) = (snapshot, snapshot); invalid.snapshot!.data = [UInt8](repeating: 1, count: 65)
        case .configurationInvalid: invalid.entries[0] = Entry(term: 5, index: 4, kind: .configuration, data: [1, 2])
        case .incarnationMismatch:
            let pinned = try! Configuration([Member(id: 1, role: .voter, incarnation: 7), Member(id: 2, role: .voter), Member(id: 3, role: .voter)])
            node = follower(configuration: pinned)
            valid.fromIncarnation = 7
            invalid.fromIncarnation = 8
        case .answerFromNonMember:
            valid = Message(kind: .appendResponse, from: 3, to: 2, term: 5, index: 3)
            invalid = valid
            invalid.from = 9
        case .logToWitness:
            let configuration = try! Configuration([Member(id: 1, role: .voter), Member(id: 2, role: .witness), Member(id: 3, role: .voter)])
            node = try! RaftNode(config: RaftConfig(id: 2, initialConfiguration: configuration), persisted: PersistedState(hardState: HardState(term: 5)))
            valid = Message(kind: .witnessAppend, from: 1, to: 2, term: 5, logTerm: 5, index: 9)
        case .witnessAppendToNonWitness:
            (valid, invalid) = (heartbeat, Message(kind: .witnessAppend, from: 1, to: 2, term: 5, logTerm: 1, index: 3))
        case .acknowledgesBeyondLog:
            var net = TestNetwork(size: 3)
            net.campaign(1)
            node = net.node(1)
            valid = Message(kind: .appendResponse, from: 2, to: 1, term: node.term, index: node.lastIndex)
            invalid = valid
            invalid.index = node.lastIndex + 1
        }
        return (node, valid, invalid)
    }

    @Test("each refusal reason: the hostile message is refused with that reason, counted, and changes nothing",
          arguments: MessageRefusal.allCases)
    func refusal(reason: MessageRefusal) {
        let (node, valid, invalid) = Self.example(reason)
        let isLinkOnly = reason == .senderNotLinkPeer
        let isStateful: Bool = switch reason {
        case .acknowledgesBeyondLog, .incarnationMismatch, .answerFromNonMember, .logToWitness, .witnessAppendToNonWitness: true
        default: false
        }
        #expect(node.refusal(of: valid) == nil, "the untouched message must be accepted")
        #expect(valid.validationError(linkPeer: valid.from, selfID: valid.to, limits: node.config.messageLimits) == nil)
        if !isStateful {
            #expect(invalid.validationError(linkPeer: valid.from, selfID: node.config.id, limits: node.config.messageLimits) == reason)
        }
        guard !isLinkOnly else { return } // a peer of the cluster, on someone else's link: only the shell can tell
        var stepped = node
        stepped.step(invalid)
        #expect(stepped.refusals.messages == 1 && stepped.refusals.lastMessage == reason)
        #expect(stepped.hardState == node.hardState && stepped.lastIndex == node.lastIndex && stepped.role == node.role)
        #expect(!stepped.hasReady || stepped.ready().messages.isEmpty, "a refused message is not answered")
        #expect(!reason.description.isEmpty)
    }

    @Test("a heartbeat with term 2^64-1 neither traps nor changes the term")
    func maximalTermHeartbeat() {
        var node = Self.follower()
        node.step(Message(kind: .heartbeat, from: 1, to: 2, term: UInt64.max, commit: 3))
        #expect(node.term == 5 && node.commitIndex == 2)
        #expect(node.refusals.lastMessage == .termTooLarge)
        for _ in 0..<100 { node.tick() } // elections go on at sane terms
        #expect(node.term == 5 && node.role == .preCandidate)
    }

    @Test("a node whose stored term is 2^64-1 refuses to campaign (visibly) instead of trapping")
    func poisonedDiskDoesNotCampaign() {
        var node = RoleFixtures.node(term: UInt64.max)
        #expect(node.isTermExhausted)
        for _ in 0..<100 { node.tick() }
        node.step(Message(kind: .timeoutNow, from: 1, to: 2, term: UInt64.max)) // refused: term too large
        #expect(node.role == .follower && node.term == UInt64.max)
        #expect(node.refusals.lastCampaign == .termExhausted && node.refusals.campaigns >= 2)
    }

    @Test("a node reaches termMax by campaigning, then campaigns no further")
    func campaignStopsAtTermMax() {
        let termMax = MessageLimits.standard.termMax
        var node = RoleFixtures.node(term: termMax - 1)
        node.campaign(isTransfer: true)
        #expect(node.role == .candidate && node.term == termMax)
        node.becomeFollower(term: termMax, leader: 0)
        node.campaign(isTransfer: false)
        #expect(node.role == .follower && node.term == termMax && node.refusals.lastCampaign == .termExhausted)
    }

    @Test("an append whose commit is above its last entry is accepted; the follower commits only through that entry")
    func commitCappedAtLastNewEntry() {
        var node = Self.follower()
        var m = Self.append
        m.entries.removeLast()
        m.commit = 1_000 // the leader committed far more than this append carries
        node.step(m)
        #expect(node.refusals.messages == 0)
        #expect(node.lastIndex == 4 && node.commitIndex == 4)
        node.step(Message(kind: .heartbeat, from: 1, to: 2, term: 5, commit: 1_000))
        #expect(node.commitIndex == 4, "a heartbeat commits only what the follower holds")
    }

    @Test("a stored log with a gap, or with terms going down, is refused at start instead of trapping")
    func storedLogChecked() {
        let config = RaftConfig(id: 2, peers: [1, 2, 3])
        let gap = [Entry(term: 1, index: 1), Entry(term: 1, index: 3)]
        let down = [Entry(term: 2, index: 1), Entry(term: 1, index: 2)]
        let behindSnapshot = PersistedState(snapshot: Snapshot(meta: SnapshotMeta(index: 5, term: 3), data: []),
                                            entries: [Entry(term: 2, index: 6)])
        for persisted in [PersistedState(entries: gap), PersistedState(entries: down), behindSnapshot] {
            #expect(throws: StoredStateError.self) { _ = try RaftNode(config: config, persisted: persisted) }
        }
        let huge = PersistedState(snapshot: Snapshot(meta: SnapshotMeta(index: UInt64.max, term: 1), data: []))
        #expect(throws: StoredStateError.self) { _ = try RaftNode(config: config, persisted: huge) }
    }

    @Test("limits that leave no room for arithmetic are refused at start")
    func limitsChecked() {
        var config = RaftConfig(id: 1, peers: [1])
        config.messageLimits.termMax = UInt64.max
        #expect(throws: ConfigError.self) { try config.validate() }
        config.messageLimits = .standard
        config.appendEntriesMax = config.messageLimits.entriesPerMessageMax + 1 // followers would refuse its appends
        #expect(throws: ConfigError.self) { try config.validate() }
        config.appendEntriesMax = 256
        #expect(throws: Never.self) { try config.validate() }
    }
}
